from django.contrib import admin
from django.db.models import Count

from triage.models import ClassifierVersion, Correction, Queue, RoutingRule, SlaPolicy, TriageDecision


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "first_response_minutes", "resolution_minutes", "urgent_factor"]
    search_fields = ["name"]
    ordering = ["name"]


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "position", "assignment_mode", "sla_policy", "member_count", "is_active"]
    list_editable = ["position", "is_active"]
    list_filter = ["is_active", "assignment_mode", "sla_policy"]
    search_fields = ["name", "slug", "description"]
    ordering = ["position", "name"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["members"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_members=Count("members"))

    @admin.display(description="members", ordering="_members")
    def member_count(self, queue):
        return queue._members


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "position",
        "is_active",
        "message_type",
        "sentiment",
        "set_queue",
        "set_priority",
        "stop_processing",
    ]
    list_editable = ["position", "is_active"]
    list_filter = ["is_active", "set_queue", "message_type", "sentiment", "network"]
    search_fields = ["name", "keywords", "pattern"]
    ordering = ["position", "id"]
    raw_id_fields = ["assign_to"]
    fieldsets = [
        (None, {"fields": ["name", "position", "is_active"]}),
        (
            "When every condition set here holds (blank means any)",
            {
                "fields": [
                    "channel",
                    "network",
                    "message_type",
                    "sentiment",
                    "keywords",
                    "pattern",
                    "language",
                    "min_influence",
                    "customer_tier",
                    "visibility",
                ]
            },
        ),
        ("Then", {"fields": ["set_queue", "set_priority", "add_labels", "assign_to", "stop_processing"]}),
    ]


@admin.register(ClassifierVersion)
class ClassifierVersionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "task", "trained_at", "seed_examples", "correction_examples", "is_active", "load_error"]
    list_filter = ["task", "is_active"]
    search_fields = ["artifact_sha256", "load_error"]
    ordering = ["task", "-trained_at"]
    readonly_fields = [
        "trained_at",
        "seed_examples",
        "correction_examples",
        "heldout_scores",
        "artifact_path",
        "artifact_sha256",
    ]


@admin.register(TriageDecision)
class TriageDecisionAdmin(admin.ModelAdmin):
    list_display = [
        "message",
        "message_type",
        "sentiment",
        "sentiment_score",
        "priority",
        "queue",
        "matched_rule",
        "decided_at",
    ]
    list_filter = ["message_type", "sentiment", "priority", "queue", "language"]
    search_fields = ["explanation", "message__text", "message__external_id"]
    ordering = ["-decided_at"]
    date_hierarchy = "decided_at"
    raw_id_fields = ["message"]
    list_select_related = ["message", "queue", "matched_rule"]


@admin.register(Correction)
class CorrectionAdmin(admin.ModelAdmin):
    list_display = ["conversation", "field", "old_value", "new_value", "corrected_by", "corrected_at", "used_in"]
    list_filter = ["field", ("used_in", admin.EmptyFieldListFilter)]
    search_fields = ["old_value", "new_value", "corrected_by__username"]
    ordering = ["-corrected_at"]
    date_hierarchy = "corrected_at"
    raw_id_fields = ["conversation", "message"]
    list_select_related = ["conversation", "corrected_by", "used_in"]
