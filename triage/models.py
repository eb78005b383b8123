"""Triage: where each mention goes, why, and what the router has learned."""

from functools import cached_property
from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.dispatch import Signal
from django.utils import timezone

from customers.models import Network, Tier
from triage.hours import BusinessHours, Slot
from triage.sla import Action, Escalation, Targets


class MessageType(models.TextChoices):
    QUESTION = "question", "Question"
    COMPLAINT = "complaint", "Complaint"
    COMPLIMENT = "compliment", "Compliment"
    FEEDBACK = "feedback", "Feedback / idea"
    LEAD = "lead", "Sales lead"
    OTHER = "other", "Other"


class Sentiment(models.TextChoices):
    NEGATIVE = "negative", "Negative"
    NEUTRAL = "neutral", "Neutral"
    POSITIVE = "positive", "Positive"


class Priority(models.IntegerChoices):
    """Higher sorts first in the inbox."""

    LOW = 0, "Low"
    NORMAL = 1, "Normal"
    HIGH = 2, "High"
    URGENT = 3, "Urgent"


class InfluenceBand(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


def default_tier_scores() -> dict[str, float]:
    return {Tier.STANDARD: 0.0, Tier.PLUS: 0.3, Tier.PREMIUM: 0.6, Tier.VIP: 1.0}


class TriageSettings(models.Model):
    """The one row of admin-tunable triage behaviour: how influence is scored and banded, when to retrain.

    Influence combines five parts, each from 0 to 1. A part's weight (0 to 1) is how far that part
    alone can raise influence; parts add up like independent chances, 1 - (1 - w1*p1)(1 - w2*p2)...
    A weight of 0 leaves a part out.
    """

    followers_weight = models.FloatField(default=0.85)
    followers_for_full_score = models.PositiveIntegerField(
        default=100_000, help_text="Followers at which the followers part reaches 1 (it grows with the logarithm)."
    )
    verified_weight = models.FloatField(default=0.35, help_text="A verified account gets this whole part.")
    tier_weight = models.FloatField(default=0.6)
    tier_scores = models.JSONField(
        default=default_tier_scores,
        blank=True,
        help_text="Each tier's part from 0 to 1; a tier left out counts 0.",
    )
    value_weight = models.FloatField(default=0.5)
    value_for_full_score = models.PositiveIntegerField(
        default=5_000, help_text="Customer lifetime value at which the value part reaches 1."
    )
    interactions_weight = models.FloatField(default=0.3)
    interactions_for_full_score = models.PositiveIntegerField(
        default=20, help_text="Past conversations at which the interactions part reaches 1."
    )
    medium_band_from = models.FloatField(default=0.3, help_text="Influence score where the medium band starts.")
    high_band_from = models.FloatField(default=0.6, help_text="Influence score where the high band starts.")
    retrain_after_corrections = models.PositiveIntegerField(
        default=25, help_text="Retrain the type and queue models once this many new corrections have arrived."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "triage settings"
        verbose_name_plural = "triage settings"
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="triage_settings_single_row"),
            models.CheckConstraint(
                condition=Q(medium_band_from__gte=0, high_band_from__lte=1, medium_band_from__lt=F("high_band_from")),
                name="triage_settings_bands_ordered",
            ),
            models.CheckConstraint(
                condition=Q(
                    followers_weight__gte=0,
                    followers_weight__lte=1,
                    verified_weight__gte=0,
                    verified_weight__lte=1,
                    tier_weight__gte=0,
                    tier_weight__lte=1,
                    value_weight__gte=0,
                    value_weight__lte=1,
                    interactions_weight__gte=0,
                    interactions_weight__lte=1,
                ),
                name="triage_settings_weights_in_range",
            ),
            models.CheckConstraint(
                condition=Q(retrain_after_corrections__gt=0), name="triage_settings_retrain_positive"
            ),
        ]

    def __str__(self) -> str:
        return "Triage settings"

    @classmethod
    def load(cls) -> "TriageSettings":
        return cls.objects.get_or_create(pk=1)[0]


def validate_timezone(name: str) -> None:
    if name not in available_timezones():
        raise ValidationError(f"Unknown timezone '{name}': use an IANA name such as Europe/Berlin or America/New_York.")


_HOURS: dict[tuple[int, object], BusinessHours] = {}


class BusinessCalendar(models.Model):
    """When a queue's SLA clock runs: weekly opening slots in a timezone, less holidays.

    The arithmetic is triage.hours; this is what admins edit. "24/7" is a calendar like any other.
    """

    name = models.CharField(max_length=100, unique=True)
    timezone = models.CharField(
        max_length=64, default="UTC", validators=[validate_timezone], help_text="IANA name, e.g. Europe/Berlin."
    )
    # Bumped by every change to the calendar, its slots or its holidays: the key of each process's copy.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.timezone})"

    def business_hours(self) -> BusinessHours:
        """Its hours for triage.hours, read from the database once per process and version."""
        key = (self.pk, self.updated_at)
        if key not in _HOURS:
            _HOURS[key] = self._read_hours()
        return _HOURS[key]

    def touch(self) -> None:
        """Say that the slots or holidays changed (each process reads the hours again)."""
        BusinessCalendar.objects.filter(pk=self.pk).update(updated_at=timezone.now())

    def _read_hours(self) -> BusinessHours:
        return BusinessHours(
            ZoneInfo(self.timezone),
            tuple(slot.as_slot() for slot in self.slots.all()),
            frozenset(self.holidays.values_list("date", flat=True)),
        )


class Part(models.Model):
    """A row of a calendar or policy (its `owner`): saving or deleting one tells every process to read
    the owner again (see BusinessCalendar.business_hours and SlaPolicy.targets)."""

    owner: str  # the name of the foreign key to what it belongs to

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        getattr(self, self.owner).touch()

    def delete(self, *args, **kwargs):
        result = super().delete(*args, **kwargs)
        getattr(self, self.owner).touch()
        return result


class OpeningSlot(Part):
    owner = "calendar"

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="slots")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField(
        help_text=(
            "At or before the opening time: the slot runs past midnight (22:00-06:00; 00:00-00:00 is the whole day)."
        )
    )

    class Meta:
        ordering = ["weekday", "opens"]
        constraints = [models.CheckConstraint(condition=Q(weekday__lte=6), name="opening_slot_weekday")]

    def __str__(self) -> str:
        return str(self.as_slot())

    def as_slot(self) -> Slot:
        return Slot(self.weekday, self.opens, self.closes)


class Holiday(Part):
    """A local date on which the calendar is closed all day (slots past midnight into it included)."""

    owner = "calendar"

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["calendar", "date"], name="holiday_once_per_date")]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}".strip()


_TARGETS: dict[tuple[int, object], "SlaPolicyRules"] = {}

# Sent (by admin) when a policy or calendar changed, with `queue_ids` whose open conversations' due
# times must be computed again and `progress_key`, the cache key progress is kept under. The inbox,
# which owns conversations, listens (inbox.apps); triage never imports it.
sla_rules_changed = Signal()


def recompute_progress(key: str) -> dict | None:
    """{"done", "total"} of the recompute started under `key`, while the cache keeps it."""
    return cache.get(key)


class SlaPolicy(models.Model):
    """How fast a queue promises to answer and to resolve, in its business hours (triage.sla has the rules)."""

    name = models.CharField(max_length=100, unique=True)
    first_response_minutes = models.PositiveIntegerField(help_text="Business minutes to the first answer.")
    next_response_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Business minutes to answer each time the customer writes again after an answer. Empty: no target.",
    )
    resolution_minutes = models.PositiveIntegerField(help_text="Business minutes from the start to resolved.")
    due_soon_minutes = models.PositiveIntegerField(
        default=15, help_text='Wall-clock minutes before a deadline that "due soon" is announced; 0: no warning.'
    )
    updated_at = models.DateTimeField(auto_now=True, editable=False)

    class Meta:
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(first_response_minutes__gt=0), name="sla_first_response_positive"),
            models.CheckConstraint(
                condition=Q(next_response_minutes__isnull=True) | Q(next_response_minutes__gt=0),
                name="sla_next_response_positive",
            ),
            models.CheckConstraint(
                condition=Q(resolution_minutes__gte=models.F("first_response_minutes")),
                name="sla_resolution_not_before_first_response",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (reply {self.first_response_minutes} min, resolve {self.resolution_minutes} min)"

    def targets(self, *, priority: int, tier: str) -> Targets:
        """What the policy promises a conversation of this priority from a customer of this tier."""
        key = (self.pk, self.updated_at)
        if key not in _TARGETS:
            _TARGETS[key] = SlaPolicyRules(self)
        return _TARGETS[key].targets(priority, tier)

    def touch(self) -> None:
        """Say that a narrowing or escalation level changed (each process reads the policy again)."""
        SlaPolicy.objects.filter(pk=self.pk).update(updated_at=timezone.now())


class SlaPolicyRules:
    """A policy with its narrowings and escalation levels, read once per process and version."""

    def __init__(self, policy: SlaPolicy):
        self.default = (policy.first_response_minutes, policy.next_response_minutes, policy.resolution_minutes)
        self.due_soon = policy.due_soon_minutes
        # Most specific first: priority and tier, then priority alone, then tier alone.
        self.narrowings = sorted(
            policy.narrowings.all(), key=lambda n: (n.priority is None, not n.tier, n.priority or 0, n.tier, n.pk)
        )
        self.escalations = tuple(
            Escalation(level.after_minutes, Action(level.action)) for level in policy.escalations.all()
        )

    def targets(self, priority: int, tier: str) -> Targets:
        minutes = self.default
        for narrowing in self.narrowings:
            if narrowing.priority in (None, priority) and narrowing.tier in ("", tier):
                minutes = narrowing.minutes
                break
        return Targets(*minutes, due_soon_minutes=self.due_soon, escalations=self.escalations)


class PolicyPart(Part):
    """A narrowing or escalation level of a policy."""

    owner = "policy"
    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE)

    class Meta:
        abstract = True


class SlaNarrowing(PolicyPart):
    """Other targets for conversations of one priority, customers of one tier, or both."""

    priority = models.PositiveSmallIntegerField(
        choices=Priority.choices, null=True, blank=True, help_text="Empty: any priority."
    )
    tier = models.CharField(max_length=16, choices=Tier.choices, blank=True, help_text="Empty: any tier.")
    first_response_minutes = models.PositiveIntegerField()
    next_response_minutes = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: no target.")
    resolution_minutes = models.PositiveIntegerField()

    class Meta:
        default_related_name = "narrowings"
        constraints = [
            models.CheckConstraint(condition=Q(priority__isnull=False) | ~Q(tier=""), name="sla_narrowing_narrows"),
            models.CheckConstraint(condition=Q(first_response_minutes__gt=0), name="sla_narrowing_first_positive"),
            models.CheckConstraint(
                condition=Q(next_response_minutes__isnull=True) | Q(next_response_minutes__gt=0),
                name="sla_narrowing_next_positive",
            ),
            models.CheckConstraint(
                condition=Q(resolution_minutes__gte=models.F("first_response_minutes")),
                name="sla_narrowing_resolution_not_before_first",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.who}: reply {self.first_response_minutes} min, resolve {self.resolution_minutes} min"

    @property
    def minutes(self) -> tuple[int, int | None, int]:
        return self.first_response_minutes, self.next_response_minutes, self.resolution_minutes

    @property
    def who(self) -> str:
        """Whom it is for, e.g. "Urgent and VIP"."""
        parts = (self.get_priority_display() if self.priority is not None else "", self.get_tier_display())
        return " and ".join(part for part in parts if part)


class SlaEscalation(PolicyPart):
    """One level of escalation after a breach: recorded, and acted on as its action says."""

    after_minutes = models.PositiveIntegerField(help_text="Wall-clock minutes after the breach (0: at the breach).")
    action = models.CharField(
        max_length=24,
        choices=[
            (Action.NOTIFY_ASSIGNEE.value, "Notify the assignee (or the queue, when nobody has it)"),
            (Action.NOTIFY_MANAGERS.value, "Notify the queue's managers"),
            (Action.REASSIGN_TO_QUEUE.value, "Take it from the assignee, back to the queue (and tell its agents)"),
        ],
    )

    class Meta:
        default_related_name = "escalations"
        ordering = ["after_minutes", "id"]
        verbose_name = "escalation level"

    def __str__(self) -> str:
        return f"{self.after_minutes} min after the breach: {self.get_action_display()}"


class Queue(models.Model):
    class AssignmentMode(models.TextChoices):
        MANUAL = "manual", "Manual (agents pick or press get next)"
        ROUND_ROBIN = "round_robin", "Round robin"
        LEAST_BUSY = "least_busy", "Least busy agent"

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=255, blank=True)
    position = models.PositiveSmallIntegerField(default=0, help_text="Order in the inbox sidebar.")
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="queues")
    sla_policy = models.ForeignKey(SlaPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="queues")
    calendar = models.ForeignKey(
        BusinessCalendar,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="queues",
        help_text="The hours its SLA clock runs in. Empty: around the clock (24/7, UTC).",
    )
    assignment_mode = models.CharField(max_length=16, choices=AssignmentMode.choices, default=AssignmentMode.MANUAL)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    @cached_property
    def business_hours(self) -> BusinessHours:
        """The calendar's hours, read once per Queue object (every due time of a batch uses them)."""
        return self.calendar.business_hours() if self.calendar_id else BusinessHours.always_open()


class RoutingRule(models.Model):
    """An admin's rule: when every set condition holds, apply the actions. Rules run by position."""

    class Visibility(models.TextChoices):
        ANY = "", "Public or private"
        PUBLIC = "public", "Public posts only"
        PRIVATE = "private", "Private messages only"

    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    # Conditions: blank means "any".
    channel = models.ForeignKey("inbox.Channel", null=True, blank=True, on_delete=models.CASCADE)
    network = models.CharField(max_length=16, choices=Network.choices, blank=True)
    message_type = models.CharField(max_length=16, choices=MessageType.choices, blank=True)
    sentiment = models.CharField(max_length=16, choices=Sentiment.choices, blank=True)
    keywords = models.TextField(blank=True, help_text="Comma-separated words or phrases; any one matches.")
    pattern = models.CharField(max_length=500, blank=True, help_text="A regular expression matched against the text.")
    language = models.CharField(max_length=8, blank=True, help_text="ISO 639-1 code, e.g. 'en'.")
    min_influence_band = models.CharField(
        max_length=8,
        choices=[("", "Any influence"), *InfluenceBand.choices[1:]],
        blank=True,
        help_text="The author's influence is at least this band (bands are set in Triage settings).",
    )
    customer_tier = models.CharField(max_length=16, choices=Tier.choices, blank=True)
    visibility = models.CharField(max_length=8, choices=Visibility.choices, blank=True)
    # Actions.
    set_queue = models.ForeignKey(Queue, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    set_priority = models.PositiveSmallIntegerField(choices=Priority.choices, null=True, blank=True)
    add_labels = models.CharField(max_length=255, blank=True, help_text="Comma-separated labels to add.")
    assign_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    stop_processing = models.BooleanField(default=False, help_text="Evaluate no later rules when this one matches.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class ClassifierVersion(models.Model):
    """One trained model; at most one per task is active and routes new mentions."""

    class Task(models.TextChoices):
        SENTIMENT = "sentiment", "Sentiment"
        TYPE = "type", "Message type"
        QUEUE = "queue", "Queue"

    task = models.CharField(max_length=16, choices=Task.choices)
    trained_at = models.DateTimeField(auto_now_add=True)
    seed_examples = models.PositiveIntegerField(default=0)
    correction_examples = models.PositiveIntegerField(default=0)
    heldout_scores = models.JSONField(default=dict, blank=True)
    # A NumPy .npz of plain arrays, read with allow_pickle=False: nothing in it can run code.
    artifact = models.BinaryField(default=b"", editable=False)
    artifact_sha256 = models.CharField(max_length=64, editable=False)
    reason = models.CharField(max_length=100, blank=True, help_text="What started this training.")
    is_active = models.BooleanField(default=False)
    load_error = models.TextField(blank=True)

    class Meta:
        ordering = ["task", "-trained_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["task"], condition=Q(is_active=True), name="one_active_classifier_per_task"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_task_display()} v{self.pk}{' (active)' if self.is_active else ''}"


class TriageDecision(models.Model):
    """What triage decided for one message, and why."""

    message = models.OneToOneField("inbox.Message", on_delete=models.CASCADE, related_name="triage")
    message_type = models.CharField(max_length=16, choices=MessageType.choices)
    sentiment = models.CharField(max_length=16, choices=Sentiment.choices)
    sentiment_score = models.FloatField(help_text="From -1 (negative) to 1 (positive).")
    language = models.CharField(max_length=8, blank=True)
    influence = models.FloatField(default=0, help_text="Author influence from 0 to 1.")
    influence_band = models.CharField(max_length=8, choices=InfluenceBand.choices, default=InfluenceBand.LOW)
    action_needed = models.BooleanField(default=True)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    queue = models.ForeignKey(Queue, null=True, on_delete=models.SET_NULL, related_name="+")
    labels = models.JSONField(default=list, blank=True)
    scores = models.JSONField(default=dict, blank=True)
    matched_rule = models.ForeignKey(RoutingRule, null=True, blank=True, on_delete=models.SET_NULL)
    model_version = models.ForeignKey(
        ClassifierVersion,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        help_text="The queue model that was consulted; all models used are in 'models used'.",
    )
    models_used = models.JSONField(default=dict, blank=True, help_text="Task -> classifier version id.")
    explanation = models.CharField(max_length=500)
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(sentiment_score__gte=-1, sentiment_score__lte=1), name="decision_sentiment_score_range"
            ),
            models.CheckConstraint(condition=Q(influence__gte=0, influence__lte=1), name="decision_influence_range"),
        ]

    def __str__(self) -> str:
        return f"{self.message_id}: {self.message_type}/{self.sentiment} -> {self.queue_id}"


class Correction(models.Model):
    """An agent changed what triage decided: a training signal."""

    class Field(models.TextChoices):
        QUEUE = "queue", "Queue"
        TYPE = "type", "Message type"
        SENTIMENT = "sentiment", "Sentiment"

    conversation = models.ForeignKey("inbox.Conversation", on_delete=models.CASCADE, related_name="corrections")
    message = models.ForeignKey("inbox.Message", null=True, blank=True, on_delete=models.CASCADE)
    field = models.CharField(max_length=16, choices=Field.choices)
    old_value = models.CharField(max_length=50, blank=True)
    new_value = models.CharField(max_length=50)
    corrected_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    corrected_at = models.DateTimeField(auto_now_add=True)
    used_in = models.ForeignKey(
        ClassifierVersion,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        help_text="The first training that used it.",
    )

    class Meta:
        ordering = ["-corrected_at"]
        indexes = [models.Index(fields=["field", "used_in"], name="correction_training_backlog")]

    def __str__(self) -> str:
        return f"{self.field}: {self.old_value or '-'} -> {self.new_value}"
