from django import forms
from django.contrib import admin

from inbox.models import CannedReply, Channel, Conversation, Event, Label, Message, Note, SecretsUnreadable
from socialcrm.fetch import FetchFailed, FetchRefused, check_url

DISCARD_UNREADABLE = "*"


def replace_field(name: str) -> str:
    """The admin form's field for a new value of the secret `name` (named so error reports hide it)."""
    return f"replace_secret_{name}"


class _ChannelSecretsForm(forms.ModelForm):
    """The channel form, with secrets write-only: each can be replaced or removed, none is ever shown;
    and a config whose `feed_url` the poller would refuse is refused, so such a URL is never stored.

    A replacement box left empty keeps what is stored. Boxes never render a value (not even after a
    refused save), and the history records which fields changed, not what they were changed to.
    """

    remove_secrets = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        try:
            stored, self.secrets_unreadable = self.instance.secret_names(), False
        except SecretsUnreadable:
            stored, self.secrets_unreadable = [], True
        for name in Channel.SECRET_NAMES:
            state = "cannot be read" if self.secrets_unreadable else "•••••••• set" if name in stored else "not set"
            self.fields[replace_field(name)].widget.attrs["placeholder"] = state
        remove = self.fields["remove_secrets"]
        if self.secrets_unreadable:
            remove.choices = [(DISCARD_UNREADABLE, "Discard every stored secret (none can be read)")]
            remove.help_text = (
                "No key in CHANNEL_SECRETS_KEYS decrypts this channel's secrets. Restore the key they were "
                "written with, or discard them and enter each secret again."
            )
        else:
            remove.choices = [(name, name) for name in stored]
            remove.help_text = "" if stored else "No secrets are set."

    def clean(self):
        cleaned = super().clean()
        replaced = {name for name in Channel.SECRET_NAMES if cleaned.get(replace_field(name))}
        removed = set(cleaned.get("remove_secrets") or ())
        if self.secrets_unreadable and replaced and DISCARD_UNREADABLE not in removed:
            raise forms.ValidationError(
                "The stored secrets cannot be read, so a new one cannot be added to them: restore the key, "
                "or tick “Discard every stored secret” and enter each secret again."
            )
        if both := sorted(replaced & removed):
            raise forms.ValidationError(f"Replace or remove a secret, not both: {', '.join(both)}.")
        config = cleaned.get("config")
        if isinstance(config, dict) and config.get("feed_url"):
            try:
                check_url(config["feed_url"])
            except FetchRefused as refusal:
                self.add_error("config", f"feed_url: {refusal}")
            except FetchFailed:
                self.add_error("config", "feed_url: its host name does not resolve; check the URL.")
        return cleaned

    def save(self, commit=True):
        channel = self.instance
        removed = self.cleaned_data.get("remove_secrets") or ()
        if DISCARD_UNREADABLE in removed:
            channel.discard_secrets()
        for name in removed:
            if name != DISCARD_UNREADABLE:
                channel.remove_secret(name)
        for name in Channel.SECRET_NAMES:
            if new_secret := self.cleaned_data.get(replace_field(name)):
                channel.set_secret(name, new_secret)
        return super().save(commit)


def _replacement(name: str) -> forms.CharField:
    return forms.CharField(
        label=name,
        required=False,
        help_text=Channel.SECRET_NAMES[name],
        # Never rendered back; "new-password" keeps browsers from filling in the admin's own password.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


# One write-only box per secret the connectors read (declared, so the admin's fieldsets may name them).
ChannelSecretsForm = type(
    "ChannelSecretsForm",
    (_ChannelSecretsForm,),
    {replace_field(name): _replacement(name) for name in Channel.SECRET_NAMES},
)
SECRETS_FORM_FIELDS = [*(replace_field(name) for name in Channel.SECRET_NAMES), "remove_secrets"]


# Which of Channel.POLL_STATE, besides when and why it last failed, each polled kind keeps.
POLL_PREFIX = {Channel.Kind.RSS: "feed_", Channel.Kind.EMAIL: "mailbox_"}
# What saving the channel form writes: every column but the poller's.
SAVED_BY_ADMIN = [
    field.name
    for field in Channel._meta.concrete_fields
    if not field.primary_key and field.name not in Channel.POLL_STATE
]


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelSecretsForm
    list_display = ["name", "slug", "kind", "network", "default_queue", "is_active", "created_at"]
    list_filter = ["kind", "network", "is_active"]
    search_fields = ["name", "slug"]
    ordering = ["name"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["api_token", "created_at", *Channel.POLL_STATE]
    # Nothing matches posts against keywords yet: admin must not offer them as if they listened.
    exclude = ["listening_keywords"]

    def get_fieldsets(self, request, obj=None):
        fields = self.get_fields(request, obj)
        fieldsets = [
            (None, {"fields": [field for field in fields if field not in (*SECRETS_FORM_FIELDS, *Channel.POLL_STATE)]}),
            (
                "Secrets",
                {
                    "fields": SECRETS_FORM_FIELDS,
                    "description": (
                        "Stored encrypted and never shown: type a value to set or replace a secret; "
                        "an empty box keeps what is stored."
                    ),
                },
            ),
        ]
        if obj is not None and obj.kind in (Channel.Kind.RSS, Channel.Kind.EMAIL):
            polled = [name for name in Channel.POLL_STATE if name.startswith(("last_", POLL_PREFIX[obj.kind]))]
            fieldsets.append(("Polling", {"fields": polled, "description": "Kept by the poller; read only."}))
        return fieldsets

    def save_model(self, request, obj, form, change):
        # A poll may record its state while the form is being saved: write every column but those.
        if change:
            obj.save(update_fields=SAVED_BY_ADMIN)
        else:
            super().save_model(request, obj, form, change)


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
    # Status changes go through Conversation.move_to (called by the services), which knows the allowed transitions.
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
