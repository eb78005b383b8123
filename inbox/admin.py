from django import forms
from django.contrib import admin

from inbox.models import CannedReply, Channel, Conversation, Event, Label, Message, Note
from socialcrm.fetch import FetchFailed, FetchRefused, check_url


class ChannelForm(forms.ModelForm):
    """Refuses a config whose `feed_url` the poller would refuse, so such a URL is never stored."""

    def clean(self):
        cleaned = super().clean()
        config = cleaned.get("config")
        if isinstance(config, dict) and config.get("feed_url"):
            try:
                check_url(config["feed_url"])
            except FetchRefused as refusal:
                self.add_error("config", f"feed_url: {refusal}")
            except FetchFailed:
                self.add_error("config", "feed_url: its host name does not resolve; check the URL.")
        return cleaned


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    list_display = ["name", "slug", "kind", "network", "default_queue", "is_active", "created_at"]
    list_filter = ["kind", "network", "is_active"]
    search_fields = ["name", "slug", "listening_keywords"]
    ordering = ["name"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["token_hash", "created_at"]


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ["name", "color"]
    search_fields = ["name"]
    ordering = ["name"]


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ["posted_at", "direction", "is_private", "author", "text", "delivery"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True
    ordering = ["posted_at"]


class NoteInline(admin.TabularInline):
    model = Note
    extra = 0
    fields = ["created_at", "author", "text"]
    readonly_fields = ["created_at"]
    raw_id_fields = ["author"]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "status",
        "queue",
        "assignee",
        "priority",
        "message_type",
        "sentiment",
        "first_response_due_at",
        "last_message_at",
    ]
    list_filter = [
        "status",
        "queue",
        "priority",
        "message_type",
        "sentiment",
        "channel__network",
        "is_private",
        "channel",
    ]
    search_fields = ["customer__name", "customer__email", "snippet", "subject", "assignee__username"]
    ordering = ["-last_message_at"]
    date_hierarchy = "created_at"
    # Status changes go through inbox.services.change_status, which knows the allowed transitions.
    readonly_fields = ["status", "snoozed_until", "resolved_at", "first_response_at", "created_at", "updated_at"]
    raw_id_fields = ["customer", "assignee"]
    filter_horizontal = ["labels"]
    list_select_related = ["customer", "channel", "queue", "assignee"]
    inlines = [MessageInline, NoteInline]
    show_full_result_count = False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["__str__", "channel", "direction", "is_private", "author", "posted_at", "delivery"]
    list_filter = ["direction", "is_private", "delivery", "channel"]
    search_fields = ["external_id", "text", "author__handle"]
    ordering = ["-posted_at"]
    date_hierarchy = "posted_at"
    raw_id_fields = ["conversation", "author", "sent_by"]
    readonly_fields = ["received_at", "raw_payload"]
    list_select_related = ["channel", "author"]
    show_full_result_count = False


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    list_display = ["__str__", "author", "created_at"]
    search_fields = ["text", "author__username"]
    ordering = ["-created_at"]
    date_hierarchy = "created_at"
    raw_id_fields = ["conversation", "author"]
    filter_horizontal = ["mentions"]


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ["title", "shortcut", "queue", "created_by", "updated_at"]
    list_filter = ["queue"]
    search_fields = ["title", "shortcut", "body"]
    ordering = ["title"]
    prepopulated_fields = {"shortcut": ["title"]}
    raw_id_fields = ["created_by"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """The audit trail is read-only: nobody edits history."""

    list_display = ["created_at", "kind", "actor", "conversation", "customer"]
    list_filter = ["kind", "created_at"]
    search_fields = ["actor__username", "customer__name"]
    ordering = ["-created_at"]
    date_hierarchy = "created_at"
    list_select_related = ["actor", "conversation", "customer"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
