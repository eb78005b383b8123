from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.text import Truncator

from customers.models import Network, Tier
from socialcrm.errors import Refused
from triage.classifiers import ArtifactError
from triage.hours import Slot, overlaps
from triage.ical import MAX_BYTES, read_holidays
from triage.learning import activate_version, load_version
from triage.models import (
    BusinessCalendar,
    ClassifierVersion,
    Correction,
    Holiday,
    OpeningSlot,
    Queue,
    RoutingRule,
    SlaEscalation,
    SlaNarrowing,
    SlaPolicy,
    TriageDecision,
    TriageSettings,
    recompute_progress,
    sla_rules_changed,
)
from triage.pipeline import Item, decide
from triage.routing import compile_pattern
from triage.scoring import Author
from triage.tasks import retrain_classifiers


class OpeningSlotFormSet(forms.BaseInlineFormSet):
    """A calendar opens at least once a week, and no two of its slots are open at the same time."""

    def clean(self):
        super().clean()
        kept = [
            form for form in self.forms if form.cleaned_data and not form.cleaned_data.get("DELETE") and not form.errors
        ]
        if not kept:
            raise forms.ValidationError(
                "A calendar needs at least one opening slot; for around the clock, open 00:00-00:00 on each day."
            )
        slots = [Slot(f.cleaned_data["weekday"], f.cleaned_data["opens"], f.cleaned_data["closes"]) for f in kept]
        clashes = overlaps(slots)
        if clashes:
            raise forms.ValidationError(
                [f"{a} overlaps {b}: one slot may end when the next opens, not after." for a, b in clashes]
            )


class OpeningSlotInline(admin.TabularInline):
    model = OpeningSlot
    formset = OpeningSlotFormSet
    extra = 0


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 0


class BusinessCalendarForm(forms.ModelForm):
    import_holidays = forms.FileField(
        required=False,
        label="Import holidays",
        help_text="An iCalendar (.ics) file, as public-holiday calendars publish them; dates already listed are kept.",
    )

    class Meta:
        model = BusinessCalendar
        fields = ["name", "timezone"]

    def clean_import_holidays(self):
        upload = self.cleaned_data.get("import_holidays")
        if upload is None:
            return None
        try:
            return read_holidays(upload.read(MAX_BYTES + 1))  # one byte past the limit is enough to refuse
        except Refused as refused:
            raise forms.ValidationError(str(refused)) from None


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    form = BusinessCalendarForm
    list_display = ["name", "timezone", "opening", "holiday_count", "queue_list", "recompute"]
    search_fields = ["name"]
    inlines = [OpeningSlotInline, HolidayInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(_holidays=Count("holidays", distinct=True))
            .prefetch_related("slots", "queues")
        )

    @admin.display(description="opening hours")
    def opening(self, calendar):
        return ", ".join(str(slot) for slot in calendar.slots.all())

    @admin.display(description="holidays", ordering="_holidays")
    def holiday_count(self, calendar):
        return calendar._holidays

    @admin.display(description="queues")
    def queue_list(self, calendar):
        return ", ".join(queue.name for queue in calendar.queues.all())

    @admin.display(description="due times recomputed")
    def recompute(self, calendar):
        return progress_text(calendar)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        self._import_holidays(request, form)
        if change:
            announce_recompute(request, form.instance, list(form.instance.queues.values_list("pk", flat=True)))

    def _import_holidays(self, request, form):
        found = form.cleaned_data.get("import_holidays")
        if found is None:
            return
        known = set(form.instance.holidays.values_list("date", flat=True))
        added = Holiday.objects.bulk_create(
            Holiday(calendar=form.instance, date=day, name=name)
            for day, name in found.dates.items()
            if day not in known
        )
        form.instance.touch()
        self.message_user(
            request, f"Imported {len(added)} holidays ({len(found.dates) - len(added)} were already listed)."
        )
        if found.repeating:
            self.message_user(
                request,
                f"Skipped {len(found.repeating)} repeating events (add their dates by hand or from a file that "
                f"lists each year): {', '.join(found.repeating[:5])}",
                messages.WARNING,
            )


def announce_recompute(request, owner, queue_ids) -> None:
    """Start recomputing the due times of these queues' open conversations (in a task), and say so."""
    if not queue_ids:
        return
    key = f"sla-recompute:{owner._meta.model_name}:{owner.pk}"
    sla_rules_changed.send(sender=type(owner), queue_ids=queue_ids, progress_key=key)
    messages.info(
        request,
        f"The due times of open conversations in {len(queue_ids)} queue(s) are being computed again in the "
        "background; the list shows the progress.",
    )


def progress_text(owner) -> str:
    progress = recompute_progress(f"sla-recompute:{owner._meta.model_name}:{owner.pk}")
    if not progress:
        return "—"
    if progress["done"] >= progress["total"]:
        return f"done ({progress['total']:,} open conversations)"
    return f"{progress['done']:,} of {progress['total']:,} open conversations"


class SlaNarrowingFormSet(forms.BaseInlineFormSet):
    """Each narrowing names a priority, a tier or both, and no two name the same."""

    def clean(self):
        super().clean()
        seen = {}
        for form in self.forms:
            data = form.cleaned_data
            if not data or data.get("DELETE") or form.errors:
                continue
            key = (data.get("priority"), data.get("tier") or "")
            if key == (None, ""):
                form.add_error(None, "Choose a priority, a tier or both: without either it is the policy itself.")
            elif key in seen:
                raise forms.ValidationError(f"Two rows give targets for the same case ({seen[key]}); keep one.")
            else:
                seen[key] = SlaNarrowing(priority=key[0], tier=key[1]).who


class SlaNarrowingInline(admin.TabularInline):
    model = SlaNarrowing
    formset = SlaNarrowingFormSet
    extra = 0
    verbose_name = "other targets for a priority or tier"
    verbose_name_plural = "Other targets by priority or customer tier (the most specific row that matches wins)"


class SlaEscalationInline(admin.TabularInline):
    model = SlaEscalation
    extra = 0
    verbose_name_plural = "Escalation levels after a breach (each is recorded and notifies only the people it names)"


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "first_response_minutes",
        "next_response_minutes",
        "resolution_minutes",
        "due_soon_minutes",
        "queue_list",
        "recompute",
    ]
    search_fields = ["name"]
    ordering = ["name"]
    inlines = [SlaNarrowingInline, SlaEscalationInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("queues")

    @admin.display(description="queues")
    def queue_list(self, policy):
        return ", ".join(queue.name for queue in policy.queues.all()) or "—"

    @admin.display(description="due times recomputed")
    def recompute(self, policy):
        return progress_text(policy)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        form.instance.touch()
        announce_recompute(request, form.instance, list(form.instance.queues.values_list("pk", flat=True)))


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "position", "sla_policy", "calendar", "member_count", "is_active"]
    list_editable = ["position", "is_active"]
    list_filter = ["is_active", "sla_policy", "calendar"]
    list_select_related = ["sla_policy", "calendar"]
    # Nothing assigns automatically yet: admin must not offer a mode as if it worked.
    exclude = ["assignment_mode"]
    search_fields = ["name", "slug", "description"]
    ordering = ["position", "name"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["members"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_members=Count("members"))

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and {"sla_policy", "calendar"} & set(form.changed_data):
            announce_recompute(request, obj, [obj.pk])

    @admin.display(description="members", ordering="_members")
    def member_count(self, queue):
        return queue._members


class RoutingRuleForm(forms.ModelForm):
    class Meta:
        model = RoutingRule
        fields = "__all__"  # noqa: DJ007 - the admin's fieldsets choose and order them

    def clean_pattern(self) -> str:
        pattern = self.cleaned_data["pattern"]
        if pattern:
            try:
                compile_pattern(pattern)
            except ValueError as problem:
                raise forms.ValidationError(str(problem)) from problem
        return pattern

    def clean_language(self) -> str:
        language = self.cleaned_data["language"].strip().lower()
        if language and not (len(language) == 2 and language.isascii() and language.isalpha()):
            raise forms.ValidationError("Use a two-letter ISO 639-1 code, e.g. 'en' or 'es'.")
        return language

    def clean(self):
        cleaned = super().clean()
        actions = ("set_queue", "set_priority", "add_labels", "assign_to")
        if not any(cleaned.get(name) not in (None, "") for name in actions) and not cleaned.get("stop_processing"):
            raise forms.ValidationError(
                "A rule needs at least one action: a queue, a priority, labels, an agent or stop."
            )
        return cleaned


class TryRulesForm(forms.Form):
    texts = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "cols": 90, "placeholder": "One message per line"}),
        max_length=100_000,
        help_text="One message per line, up to 200 lines.",
    )
    network = forms.ChoiceField(choices=[("", "Any network"), *Network.choices], required=False)
    followers = forms.IntegerField(min_value=0, max_value=10**12, required=False, initial=0)
    verified = forms.BooleanField(required=False)
    tier = forms.ChoiceField(choices=[("", "Unknown"), *Tier.choices], required=False)
    private = forms.BooleanField(required=False, label="Private message")

    def clean_texts(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data["texts"].splitlines() if line.strip()]
        if not lines:
            raise forms.ValidationError("Paste at least one message.")
        if len(lines) > 200:
            raise forms.ValidationError(f"At most 200 messages at a time (got {len(lines)}).")
        return lines


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    form = RoutingRuleForm
    change_list_template = "admin/triage/routingrule/change_list.html"
    list_display = [
        "name",
        "position",
        "is_active",
        "conditions",
        "set_queue",
        "set_priority",
        "stop_processing",
    ]
    list_display_links = ["name"]
    list_editable = ["position", "is_active"]
    list_filter = ["is_active", "set_queue", "message_type", "sentiment", "network"]
    search_fields = ["name", "keywords", "pattern"]
    ordering = ["position", "id"]
    raw_id_fields = ["assign_to"]
    fieldsets = [
        (
            None,
            {
                "fields": ["name", "position", "is_active"],
                "description": "Rules run in order of position. The first matching rule that sets the queue "
                "(or priority, or agent) decides it; labels add up; 'stop' ends the evaluation. When no rule "
                "sets the queue, the learned model chooses it.",
            },
        ),
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
                    "min_influence_band",
                    "customer_tier",
                    "visibility",
                ]
            },
        ),
        ("Then", {"fields": ["set_queue", "set_priority", "add_labels", "assign_to", "stop_processing"]}),
    ]

    @admin.display(description="when")
    def conditions(self, rule: RoutingRule) -> str:
        parts = [
            rule.get_network_display() if rule.network else "",
            rule.get_message_type_display() if rule.message_type else "",
            rule.get_sentiment_display() if rule.sentiment else "",
            f"words: {Truncator(rule.keywords).chars(40)}" if rule.keywords else "",
            f"pattern: {Truncator(rule.pattern).chars(40)}" if rule.pattern else "",
            f"language {rule.language}" if rule.language else "",
            f"influence ≥ {rule.get_min_influence_band_display()}" if rule.min_influence_band else "",
            rule.get_customer_tier_display() if rule.customer_tier else "",
            rule.get_visibility_display() if rule.visibility else "",
            f"channel {rule.channel}" if rule.channel_id else "",
        ]
        return ", ".join(part for part in parts if part) or "always"

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if obj.is_active and self.conditions(obj) == "always":
            later = RoutingRule.objects.filter(is_active=True, position__gt=obj.position).count()
            self.message_user(
                request,
                f"'{obj.name}' has no conditions: it matches every message"
                + (f", so the {later} active rule(s) after it never set what it sets." if later else ".")
                + " Give it a higher position to make it a fallback.",
                messages.WARNING,
            )

    def get_urls(self):
        return [
            path("try/", self.admin_site.admin_view(self.try_rules), name="triage_routingrule_try"),
            *super().get_urls(),
        ]

    def try_rules(self, request):
        """Run the saved rules and models on pasted messages: the same code that routes real ones."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = TryRulesForm(request.POST or None)
        results = []
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            author = Author(followers=data["followers"] or 0, verified=data["verified"], tier=data["tier"])
            items = [
                Item(text=text, network=data["network"], is_private=data["private"], author=author)
                for text in data["texts"]
            ]
            results = list(zip(data["texts"], decide(items), strict=True))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Try the routing rules",
            "form": form,
            "results": results,
        }
        return TemplateResponse(request, "admin/triage/routingrule/try_rules.html", context)


@admin.register(TriageSettings)
class TriageSettingsAdmin(admin.ModelAdmin):
    fieldsets = [
        (
            "Influence: each weight (0 to 1) is how far that part alone can raise it; parts add up",
            {
                "fields": [
                    ("followers_weight", "followers_for_full_score"),
                    "verified_weight",
                    ("tier_weight", "tier_scores"),
                    ("value_weight", "value_for_full_score"),
                    ("interactions_weight", "interactions_for_full_score"),
                ]
            },
        ),
        ("Influence bands (used by routing rules)", {"fields": ["medium_band_from", "high_band_from"]}),
        ("Learning", {"fields": ["retrain_after_corrections"]}),
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        # There is one row: go straight to it.
        settings = TriageSettings.load()
        return redirect(reverse("admin:triage_triagesettings_change", args=[settings.pk]))

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)

        class CheckedForm(form):
            def clean_tier_scores(self):
                scores = self.cleaned_data["tier_scores"] or {}
                if not isinstance(scores, dict):
                    raise forms.ValidationError('Give an object such as {"vip": 1, "premium": 0.6}.')
                unknown = sorted(set(scores) - set(Tier.values))
                if unknown:
                    raise forms.ValidationError(
                        f"Unknown tier(s): {', '.join(unknown)}. Tiers are {', '.join(Tier.values)}."
                    )
                for tier, value in scores.items():
                    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
                        raise forms.ValidationError(f"The score for {tier} must be a number from 0 to 1.")
                return scores

            def clean(self):
                cleaned = super().clean()
                medium, high = cleaned.get("medium_band_from"), cleaned.get("high_band_from")
                if medium is not None and high is not None and not 0 <= medium < high <= 1:
                    raise forms.ValidationError("Bands need 0 ≤ medium start < high start ≤ 1.")
                weights = [name for name in cleaned if name.endswith("_weight")]
                if any(not 0 <= (cleaned.get(name) or 0) <= 1 for name in weights):
                    raise forms.ValidationError("Weights go from 0 to 1.")
                if weights and not any(cleaned.get(name) for name in weights):
                    raise forms.ValidationError("At least one weight must be above 0.")
                return cleaned

        return CheckedForm


@admin.register(ClassifierVersion)
class ClassifierVersionAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "trained_at",
        "reason",
        "examples",
        "heldout_macro_f1",
        "is_active",
        "load_error",
    ]
    list_filter = ["task", "is_active"]
    search_fields = ["artifact_sha256", "load_error", "reason"]
    ordering = ["task", "-trained_at"]
    actions = ["activate", "retrain_now"]
    readonly_fields = [
        "task",
        "trained_at",
        "reason",
        "seed_examples",
        "correction_examples",
        "heldout_scores",
        "artifact_sha256",
        "is_active",
        "load_error",
    ]
    exclude = ["artifact"]

    @admin.display(description="examples (seed + corrections)")
    def examples(self, version: ClassifierVersion) -> str:
        return f"{version.seed_examples:,} + {version.correction_examples:,}"

    @admin.display(description="held-out macro-F1")
    def heldout_macro_f1(self, version: ClassifierVersion) -> str:
        score = (version.heldout_scores or {}).get("macro_f1")
        return "" if score is None else f"{score:.3f}"

    def has_add_permission(self, request) -> bool:
        return False  # versions come from training

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # activation is an action; scores and artifacts are facts

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.is_active:
            return False
        return super().has_delete_permission(request, obj)

    @admin.action(description="Activate the selected version (roll back or forward)", permissions=["activate"])
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return
        version = queryset.get()
        try:
            load_version(version)
        except ArtifactError as problem:
            self.message_user(request, f"{version} cannot be activated: {problem}.", messages.ERROR)
            return
        activate_version(version)
        self.message_user(request, f"{version} now routes new messages.", messages.SUCCESS)

    def has_activate_permission(self, request) -> bool:
        return request.user.has_perm("triage.change_classifierversion")

    @admin.action(description="Retrain every model now (seed set + corrections)", permissions=["activate"])
    def retrain_now(self, request, queryset):
        retrain_classifiers.delay(reason=f"asked by {request.user.get_username()}")
        self.message_user(
            request, "Retraining started. New versions appear here; each becomes active only if not worse."
        )


@admin.register(TriageDecision)
class TriageDecisionAdmin(admin.ModelAdmin):
    list_display = [
        "message",
        "message_type",
        "sentiment",
        "sentiment_score",
        "influence_band",
        "priority",
        "queue",
        "matched_rule",
        "decided_at",
    ]
    list_filter = ["message_type", "sentiment", "influence_band", "priority", "queue", "language"]
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
