"""The inbox: channels, the messages that arrive on them, and the conversations agents work."""

import json
import re
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from customers.models import Customer, Identity, Network
from socialcrm import encryption
from socialcrm.errors import Refused
from triage.models import MessageType, Priority, Queue, Sentiment


class InvalidTransition(Refused):
    """The conversation cannot move from its status to the one asked for."""


class SecretsUnreadable(Exception):
    """No key in CHANNEL_SECRETS_KEYS opens a channel's stored secrets; the message names the channel only."""


class SecretMissing(Exception):
    """A secret the work needs is not set on the channel; the message says where an admin sets it."""


class Channel(models.Model):
    """One place the brand listens: a Facebook page, an X account, a mailbox, a feed, a webhook."""

    class Kind(models.TextChoices):
        """Which connector brings the channel's mentions in."""

        WEBHOOK = "webhook", "Generic webhook"
        FACEBOOK = "facebook", "Facebook Page"
        INSTAGRAM = "instagram", "Instagram"
        X = "x", "X (Twitter)"
        RSS = "rss", "RSS / Atom feed"
        EMAIL = "email", "E-mail (IMAP)"

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    network = models.CharField(
        max_length=16, choices=Network.choices, help_text="The network its authors' identities belong to."
    )
    is_active = models.BooleanField(default=True)
    listening_keywords = models.TextField(blank=True, help_text="Comma-separated brand words to listen for.")
    api_token = models.OneToOneField(
        "socialcrm.ApiToken",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="channel",
        help_text="The bearer token of its ingest API (issued by add_channel; revoked under API tokens).",
    )
    config = models.JSONField(
        default=dict,
        blank=True,
        help_text="Connector settings (feed URL, mailbox, page id, poll_seconds). Secrets go below.",
    )
    # Never plaintext: read with secret(), change with set_secret() / remove_secret().
    encrypted_secrets = models.TextField(
        blank=True,
        editable=False,
        help_text="The connector's secrets (a JSON object of name to text) as one Fernet token; empty when none.",
    )
    default_queue = models.ForeignKey(
        Queue,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="New conversations start in this queue; triage may route them elsewhere.",
    )
    reopen_window_hours = models.PositiveIntegerField(
        default=72, help_text="A customer writing again within this many hours of a resolution reopens it."
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        default=60_000, help_text="Mentions accepted per minute through the API before it answers 429."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # What the poller of a feed or mailbox keeps between polls. Only the poller writes these, each
    # column on its own (inbox.connectors.polling.save_poll_state), never `config`, so an admin's
    # edit of the config made while a poll runs is not overwritten by it.
    last_polled_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the feed or mailbox was last polled."
    )
    last_poll_error = models.TextField(
        blank=True, editable=False, help_text="Why the last poll failed; empty when it succeeded."
    )
    feed_etag = models.TextField(
        blank=True, editable=False, help_text="The feed's last ETag, sent back as If-None-Match."
    )
    feed_last_modified = models.TextField(
        blank=True, editable=False, help_text="The feed's last Last-Modified, sent back as If-Modified-Since."
    )
    mailbox_uidvalidity = models.PositiveBigIntegerField(
        default=0, editable=False, help_text="The mailbox's UIDVALIDITY when its last UID was seen."
    )
    mailbox_last_uid = models.PositiveBigIntegerField(
        default=0, editable=False, help_text="The highest UID of the mailbox already stored."
    )

    POLL_STATE = (
        "last_polled_at",
        "last_poll_error",
        "feed_etag",
        "feed_last_modified",
        "mailbox_uidvalidity",
        "mailbox_last_uid",
    )

    # The secrets the connectors and senders read, and what for (admin offers these).
    SECRET_NAMES = {
        "app_secret": "Facebook, Instagram: the Meta app secret that signs webhook deliveries.",
        "verify_token": "Facebook, Instagram: the token Meta's webhook handshake must present.",
        "page_access_token": "Facebook, Instagram: the Page access token that sends replies.",
        "consumer_secret": "X: the app's API secret (CRC checks, delivery signatures).",
        "user_access_token": "X: the account's access token that sends replies.",
        "password": "E-mail: the IMAP password.",
    }

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def secrets(self):
        # The plaintext dict this field once was must not come back by accident (an assignment would
        # otherwise be silently dropped on save).
        raise AttributeError("Channel secrets are encrypted: read one with secret(name), change with set_secret()")

    def secret(self, name: str, *, required: bool = False) -> str | None:
        """The channel's secret `name` (non-empty text), or None when it has none by that name.

        The one way to read a secret. Raises SecretsUnreadable when no configured key opens them, and,
        with `required`, SecretMissing instead of returning None.
        """
        value = self._decrypted_secrets().get(name)
        if value is None and required:
            raise SecretMissing(f"The channel has no '{name}' secret: add it in admin (Channel > Secrets).")
        return value

    def secret_names(self) -> list[str]:
        """The names of the secrets that are set, sorted; raises SecretsUnreadable like secret()."""
        return sorted(self._decrypted_secrets())

    @sensitive_variables()
    def set_secret(self, name: str, value: str) -> None:
        """Set (or replace) the secret `name`, encrypted under the current key; save() stores it."""
        if not isinstance(name, str) or not name or not isinstance(value, str) or not value:
            raise ValueError("A channel secret needs a name and a value, both non-empty text.")
        self._encrypt_secrets(self._decrypted_secrets() | {name: value})

    def remove_secret(self, name: str) -> None:
        """Forget the secret `name` if it is set; save() stores the change."""
        self._encrypt_secrets({key: value for key, value in self._decrypted_secrets().items() if key != name})

    def discard_secrets(self) -> None:
        """Forget every secret, readable or not (to start over when the key they were written with is lost)."""
        self.encrypted_secrets = ""

    def reencrypt_secrets(self) -> None:
        """Encrypt the stored secrets anew under the first configured key; raises SecretsUnreadable."""
        if self.encrypted_secrets:
            try:
                self.encrypted_secrets = encryption.reencrypt(self.encrypted_secrets)
            except encryption.InvalidToken:
                raise self._unreadable() from None

    def _decrypted_secrets(self) -> dict[str, str]:
        if not self.encrypted_secrets:
            return {}
        try:
            return json.loads(encryption.decrypt(self.encrypted_secrets))
        except encryption.InvalidToken:
            raise self._unreadable() from None

    @sensitive_variables()
    def _encrypt_secrets(self, values: dict[str, str]) -> None:
        self.encrypted_secrets = encryption.encrypt(json.dumps(values, sort_keys=True).encode()) if values else ""

    def _unreadable(self) -> SecretsUnreadable:
        return SecretsUnreadable(
            f"Channel '{self.slug}': its secrets cannot be decrypted with any key in CHANNEL_SECRETS_KEYS "
            "(the key they were written with is missing); restore that key, or replace the secrets in admin."
        )


class Label(models.Model):
    name = models.CharField(max_length=50, unique=True)
    color = models.CharField(max_length=7, default="#6b7280", help_text="Hex colour, e.g. #2563eb.")

    class Meta:
        ordering = ["name"]
        constraints = [models.CheckConstraint(condition=Q(color__regex=r"^#[0-9a-fA-F]{6}$"), name="label_color_hex")]

    def __str__(self) -> str:
        return self.name


# Conversations with no first-reply due time sort after every dated one.
NEVER_DUE = datetime(9999, 1, 1, tzinfo=UTC)


class Conversation(models.Model):
    """A thread with one customer on one channel; what an agent works on and resolves."""

    class Status(models.TextChoices):
        NEW = "new", "New"
        OPEN = "open", "Open"
        PENDING = "pending", "Pending (waiting on customer)"
        SNOOZED = "snoozed", "Snoozed"
        RESOLVED = "resolved", "Resolved"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="conversations")
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="conversations")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    queue = models.ForeignKey(Queue, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
    )
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    message_type = models.CharField(max_length=16, choices=MessageType.choices, blank=True)
    sentiment = models.CharField(max_length=16, choices=Sentiment.choices, blank=True)
    labels = models.ManyToManyField(Label, blank=True, related_name="conversations")
    subject = models.CharField(max_length=255, blank=True)
    snippet = models.CharField(max_length=200, blank=True, help_text="Start of the latest inbound message.")
    is_private = models.BooleanField(default=False, help_text="A direct message rather than a public post.")
    # The SLA clocks (triage.sla has the rules; inbox.services.conversations.refresh_sla sets these).
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    next_response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    awaiting_since = models.DateTimeField(
        null=True, blank=True, help_text="When the customer's current unanswered wait began; empty once answered."
    )
    sla_pauses = models.JSONField(
        default=list, blank=True, help_text="[start, end or null] of each time the clocks stood still (ISO times)."
    )
    sla_due_at = models.DateTimeField(
        null=True, blank=True, help_text="The earliest due time of a running clock: when it breaches next."
    )
    sla_alert_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the deadline checker next warns or escalates; empty when it has nothing to do.",
    )
    sla_alerts_done = models.PositiveSmallIntegerField(
        default=0, help_text="How many of the alerts of sla_due_at (due soon, breach, escalations) were made."
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    last_message_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    # Where the conversation was (queue id, assignee id) when it was read; None for one made in memory
    # or read without those columns. inbox.live tells the streams that lose it.
    loaded_place: tuple[int | None, int | None] | None = None

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="snoozed") | Q(snoozed_until__isnull=False), name="snoozed_has_wake_time"
            ),
            models.CheckConstraint(
                condition=~Q(status="resolved") | Q(resolved_at__isnull=False), name="resolved_has_resolved_at"
            ),
        ]
        indexes = [
            # The inbox list: a queue's conversations in a status, most urgent and soonest due first.
            models.Index(
                "queue",
                "status",
                models.F("priority").desc(),
                "sla_due_at",
                "id",
                name="conv_queue_worklist",
            ),
            # The list's "New & open" tab: a queue's active conversations in the order shown, so a page
            # reads its own rows rather than sorting the whole backlog. The expression matches
            # inbox.selectors.conversation_list's `due`.
            models.Index(
                "queue",
                models.F("priority").desc(),
                Coalesce("sla_due_at", models.Value(NEVER_DUE)),
                "id",
                condition=Q(status__in=["new", "open"]),
                name="conv_queue_active_order",
            ),
            # The "All" tab (and a search of it, walked in this order): a queue's conversations in the
            # order shown, whatever their status.
            models.Index(
                "queue",
                models.F("priority").desc(),
                Coalesce("sla_due_at", models.Value(NEVER_DUE)),
                "id",
                name="conv_queue_all_order",
            ),
            # The "Resolved" tab: latest first.
            models.Index(
                "queue",
                models.F("resolved_at").desc(),
                models.F("id").desc(),
                condition=Q(status="resolved"),
                name="conv_queue_resolved_order",
            ),
            # The queue counts (new, open, mine, overdue) read only this index (every column they
            # need is in it), never the resolved history.
            models.Index(
                fields=[
                    "queue",
                    "status",
                    "assignee",
                    "sla_due_at",
                    "id",
                ],
                condition=Q(status__in=["new", "open"]),
                name="conv_queue_active_counts",
            ),
            # The reports' backlog and agents' open load: conversations not resolved, by queue and assignee,
            # counted from this index alone (a few per cent of all conversations).
            models.Index(
                fields=["queue", "assignee"],
                condition=Q(status__in=["new", "open", "pending", "snoozed"]),
                name="conv_open_by_queue",
            ),
            # "Mine": an agent's conversations in a status.
            models.Index(fields=["assignee", "status", "last_message_at"], name="conv_assignee_worklist"),
            # Threading: the customer's open conversation on a channel.
            models.Index(fields=["customer", "channel", "status"], name="conv_customer_channel"),
            # The deadline checker: what warns or escalates next.
            models.Index(fields=["sla_alert_at"], condition=Q(sla_alert_at__isnull=False), name="conv_sla_alert_due"),
            # The list sorted by time to breach.
            models.Index(
                "queue",
                Coalesce("sla_due_at", models.Value(NEVER_DUE)),
                "id",
                condition=Q(status__in=["new", "open"]),
                name="conv_queue_breach_order",
            ),
            # Wake-up sweep for snoozed conversations.
            models.Index(fields=["snoozed_until"], condition=Q(status="snoozed"), name="conv_snoozed_wakeup"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.customer} on {self.channel}"

    @classmethod
    def from_db(cls, db, field_names, values):
        conversation = super().from_db(db, field_names, values)
        loaded = conversation.__dict__  # a deferred field is absent
        if "queue_id" in loaded and "assignee_id" in loaded:
            conversation.loaded_place = (loaded["queue_id"], loaded["assignee_id"])
        return conversation

    def can_become(self, status: str) -> bool:
        return status in ALLOWED_STATUS_TRANSITIONS[self.status]

    def move_to(self, status: str, *, now: datetime, snoozed_until: datetime | None = None) -> None:
        """Set the new status and the times that go with it, or raise InvalidTransition. Does not save.

        Every service that changes a status calls this (change_status, and the verbs that reopen or
        open one on the way: ingest, assignment, get next, a reply, the snooze wake-up) so that the
        allowed transitions are checked in one place.
        """
        old = self.status
        if status not in Conversation.Status.values:
            raise InvalidTransition(f"{status!r} is not a conversation status")
        if not self.can_become(status):
            raise InvalidTransition(
                f"A {Conversation.Status(old).label.lower()} conversation cannot become "
                f"{Conversation.Status(status).label.lower()}"
            )
        if status == Conversation.Status.SNOOZED:
            if snoozed_until is None or snoozed_until <= now:
                raise InvalidTransition("Snoozing needs a wake-up time in the future")
            self.snoozed_until = snoozed_until
        else:
            self.snoozed_until = None
        self.resolved_at = now if status == Conversation.Status.RESOLVED else None
        self.status = status
        # The SLA clocks stand still while it is paused (triage.sla), and a reopen owes a next response.
        if old not in PAUSED_STATUSES and status in PAUSED_STATUSES:
            self.sla_pauses = [*self.sla_pauses, [now.isoformat(), None]]
        elif old in PAUSED_STATUSES and status not in PAUSED_STATUSES and self.sla_pauses:
            self.sla_pauses = [*self.sla_pauses[:-1], [self.sla_pauses[-1][0], now.isoformat()]]
        if old == Conversation.Status.RESOLVED and self.first_response_at is not None:
            self.awaiting_since = now

    def pauses(self) -> tuple[tuple[datetime, datetime | None], ...]:
        """The SLA pauses as triage.hours takes them."""
        return tuple(
            (datetime.fromisoformat(start), datetime.fromisoformat(end) if end else None)
            for start, end in self.sla_pauses
        )


Status = Conversation.Status

# Every status change goes through Conversation.move_to, which consults this table.
ALLOWED_STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    Status.NEW: frozenset({Status.OPEN, Status.PENDING, Status.SNOOZED, Status.RESOLVED}),
    Status.OPEN: frozenset({Status.PENDING, Status.SNOOZED, Status.RESOLVED}),
    Status.PENDING: frozenset({Status.OPEN, Status.SNOOZED, Status.RESOLVED}),
    Status.SNOOZED: frozenset({Status.OPEN, Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.OPEN}),
}

# Statuses an agent still has to act on.
ACTIVE_STATUSES = frozenset({Status.NEW, Status.OPEN})
# Statuses the SLA clocks stand still in.
PAUSED_STATUSES = frozenset({Status.PENDING, Status.SNOOZED, Status.RESOLVED})


class Message(models.Model):
    """One inbound mention or outbound reply, stored once per channel and external id."""

    class Direction(models.TextChoices):
        INBOUND = "in", "From the customer"
        OUTBOUND = "out", "From us"

    class TriageState(models.TextChoices):
        QUEUED = "queued", "Stored, triage enqueued"
        WAITING = "waiting", "Picked up, waiting for the classifier"
        TRIAGED = "triaged", "Triaged"
        SKIPPED = "skipped", "Not triaged (our own reply, or stored before triage existed)"

    class Delivery(models.TextChoices):
        """Only for outbound replies: queued, sending, then sent or failed (see inbox.services.deliver)."""

        NONE = "", "Not applicable"
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="messages")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    external_id = models.CharField(
        max_length=255, null=True, blank=True, help_text="The network's id; empty for a reply not yet sent."
    )
    direction = models.CharField(max_length=3, choices=Direction.choices, default=Direction.INBOUND)
    is_private = models.BooleanField(default=False)
    author = models.ForeignKey(Identity, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="sent_messages"
    )
    text = models.TextField()
    language = models.CharField(
        max_length=8,
        blank=True,
        default="",
        db_default="",
        help_text="ISO 639-1 code of the text's language, when known; search stems its words by it.",
    )
    url = models.URLField(max_length=1000, blank=True)
    in_reply_to_external_id = models.CharField(max_length=255, blank=True)
    posted_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    raw_payload = models.JSONField(null=True, blank=True, help_text="The event as the network sent it, for audit.")
    triage_state = models.CharField(max_length=8, choices=TriageState.choices, default=TriageState.QUEUED)
    processed_at = models.DateTimeField(null=True, blank=True, help_text="When the triage task took it up.")
    delivery = models.CharField(max_length=8, choices=Delivery.choices, blank=True, default=Delivery.NONE)
    delivery_attempts = models.PositiveSmallIntegerField(default=0)
    delivery_error = models.CharField(max_length=500, blank=True)
    delivery_changed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the reply's delivery state last changed; the stuck-reply sweep reads it."
    )
    # For a reply that answered a wait (the first response, or a next one): what the reports count.
    answered_wait_since = models.DateTimeField(
        null=True, blank=True, help_text="When the customer began the wait this reply ended."
    )
    answered_due_at = models.DateTimeField(null=True, blank=True, help_text="When the answer was due by the SLA.")
    answered_business_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="How long the customer waited, in the queue's business time."
    )
    idempotency_key = models.UUIDField(
        null=True,
        blank=True,
        editable=False,
        help_text="Names one reply: the Send form carries it, so the same form sent twice makes one reply.",
    )

    class Meta:
        ordering = ["posted_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], name="message_once_per_channel"),
            models.UniqueConstraint(
                fields=["conversation", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="reply_once_per_key",
            ),
            models.CheckConstraint(
                condition=Q(direction="out") | Q(delivery=""), name="message_delivery_only_outbound"
            ),
        ]
        indexes = [
            models.Index(fields=["conversation", "posted_at"], name="message_thread_order"),
            # The sweep for messages whose triage task was lost.
            models.Index(
                fields=["received_at"],
                condition=Q(triage_state__in=["queued", "waiting"]),
                name="message_triage_backlog",
            ),
            # The sweep for replies left queued or sending (a lost task, a killed worker).
            models.Index(
                fields=["delivery_changed_at"],
                condition=Q(delivery__in=["queued", "sending"]),
                name="message_delivery_backlog",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.external_id or self.pk}"


class Note(models.Model):
    """An internal note on a conversation; customers never see it."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="notes")
    text = models.TextField()
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="mentioned_in_notes")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Note on #{self.conversation_id} by {self.author}"


class SearchDocument(models.Model):
    """The words a conversation is found by: its messages, notes, subject, and its customer's name,
    e-mail, handles and display names, as one tsvector (GIN-indexed) on PostgreSQL.

    Only the database writes it: triggers (migration inbox 0018) add each message and note as it is
    stored and redo a conversation's words when its customer's names change or it moves to another
    customer. Django never saves one, so no stale copy in memory can overwrite it. On SQLite it stays
    empty and inbox.search reads the messages themselves.
    """

    conversation = models.OneToOneField(
        Conversation, primary_key=True, on_delete=models.CASCADE, related_name="search_document"
    )
    words = SearchVectorField()

    def __str__(self) -> str:
        return f"Search words of #{self.conversation_id}"


class CannedReply(models.Model):
    """A saved answer; the body may use {{ customer.first_name }} and similar variables."""

    title = models.CharField(max_length=100)
    shortcut = models.SlugField(max_length=50, unique=True, help_text="Typed after '/' in the reply box.")
    body = models.TextField()
    queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.CASCADE, help_text="Offered only in this queue; empty for all."
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "canned replies"
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    def filled_for(self, conversation: "Conversation", agent) -> str:
        """The body for this customer and agent (see fill_variables)."""
        return fill_variables(self.body, conversation.customer, agent)


# The variables a canned reply or a macro's reply may use, as the settings pages list them.
VARIABLES = {
    "{{ customer.first_name }}": "the customer's first name (or “there”)",
    "{{ customer.name }}": "the customer's full name",
    "{{ agent.first_name }}": "your first name",
    "{{ agent.name }}": "your full name",
}
_CANNED_VARIABLE = re.compile(r"\{\{\s*(customer|agent)\.(first_name|name)\s*\}\}")


def fill_variables(body: str, customer: Customer, agent) -> str:
    """The body for this customer and agent: {{ customer.first_name }}, {{ customer.name }},
    {{ agent.first_name }} and {{ agent.name }} are filled in; anything else stays as written.

    Plain substitution, never the template engine: a canned reply cannot reach other data."""
    values = {
        ("customer", "first_name"): customer.first_name or "there",
        ("customer", "name"): customer.name or customer.first_name or "there",
        ("agent", "first_name"): (agent.first_name or agent.get_username()) if agent else "",
        ("agent", "name"): (agent.get_full_name() or agent.get_username()) if agent else "",
    }
    return _CANNED_VARIABLE.sub(lambda match: values[(match.group(1), match.group(2))], body)


class Macro(models.Model):
    """A canned reply and the changes that go with it, applied to a conversation in one step:
    "Refund on its way" replies, labels it refund, sets it pending."""

    class SetStatus(models.TextChoices):
        KEEP = "", "Leave as it is"
        OPEN = "open", "Open"
        PENDING = "pending", "Pending (waiting on customer)"
        RESOLVED = "resolved", "Resolved"

    name = models.CharField(max_length=100, unique=True)
    reply = models.TextField(blank=True, help_text="Sent to the customer on their channel; empty for none.")
    add_labels = models.ManyToManyField(Label, blank=True, related_name="+", help_text="Added; others stay.")
    set_priority = models.PositiveSmallIntegerField(
        choices=Priority.choices, null=True, blank=True, help_text="Empty: leave as it is."
    )
    set_status = models.CharField(max_length=16, choices=SetStatus.choices, blank=True)
    move_to_queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="Empty: stay."
    )
    queue = models.ForeignKey(
        Queue,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Offered only in this queue; empty for all.",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def steps(self) -> list[str]:
        """What applying it does, in the order it is done, as a person reads it."""
        done = []
        if self.reply:
            done.append("reply")
        labels = [label.name for label in self.add_labels.all()]
        if labels:
            done.append("label " + ", ".join(labels))
        if self.set_priority is not None:
            done.append(f"priority {Priority(self.set_priority).label.lower()}")
        if self.move_to_queue_id:
            done.append(f"move to {self.move_to_queue.name}")
        if self.set_status:
            done.append(f"mark {self.SetStatus(self.set_status).label.lower()}")
        return done


class Event(models.Model):
    """The audit trail: every change, who made it and when."""

    class Kind(models.TextChoices):
        CONVERSATION_CREATED = "conversation_created", "Conversation created"
        STATUS_CHANGED = "status_changed", "Status changed"
        ASSIGNED = "assigned", "Assigned"
        QUEUE_CHANGED = "queue_changed", "Queue changed"
        PRIORITY_CHANGED = "priority_changed", "Priority changed"
        LABELS_CHANGED = "labels_changed", "Labels changed"
        TRIAGED = "triaged", "Triaged"
        REPLY_SENT = "reply_sent", "Reply sent"
        NOTE_ADDED = "note_added", "Note added"
        CUSTOMER_MERGED = "customer_merged", "Customers merged"
        CUSTOMER_UNMERGED = "customer_unmerged", "Customer merge undone"
        CUSTOMER_CHANGED = "customer_changed", "Customer details changed"
        CUSTOMER_NOTE_ADDED = "customer_note_added", "Customer note added"
        SLA_DUE_SOON = "sla_due_soon", "SLA due soon"
        SLA_BREACHED = "sla_breached", "SLA breached"
        SLA_ESCALATED = "sla_escalated", "SLA escalated"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, help_text="Empty for the system."
    )
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="event_conversation_history"),
            models.Index(fields=["customer", "created_at"], name="event_customer_history"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.created_at:%Y-%m-%d %H:%M}"
