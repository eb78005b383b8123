"""The verbs that change a conversation: status, assignment, notes, priority, labels, the audit trail."""

import logging
import re
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone

from customers.models import Customer
from inbox import live
from inbox.models import Conversation, Event, Note, Status
from inbox.selectors import conversations_visible_to, queues_visible_to
from socialcrm.errors import Refused
from socialcrm.roles import is_supervisor
from triage import sla
from triage.hours import BusinessHours
from triage.models import Priority

logger = logging.getLogger(__name__)


def record_event(
    *,
    kind: str,
    actor=None,
    conversation: Conversation | None = None,
    customer: Customer | None = None,
    **data,
) -> Event:
    """Append one entry to the audit trail. It publishes nothing: the verb that changed a list's row
    says so itself, with live.send_on_commit."""
    customer_id = customer.pk if customer else (conversation.customer_id if conversation else None)
    return Event.objects.create(kind=kind, actor=actor, conversation=conversation, customer_id=customer_id, data=data)


@transaction.atomic
def change_status(
    *, conversation: Conversation, status: str, by=None, snoozed_until: datetime | None = None
) -> Conversation:
    """Move a conversation to another status, if the allowed transitions permit it.

    Resolving stamps resolved_at; reopening clears it. Snoozing needs a wake-up time in the future.
    `by` is the user making the change, or None for the system.
    """
    conversation = (
        Conversation.objects.select_for_update(of=("self",)).select_related(*CLOCK_RELATED).get(pk=conversation.pk)
    )
    old = conversation.status
    conversation.move_to(status, now=timezone.now(), snoozed_until=snoozed_until)
    conversation.save(update_fields=[*STATUS_FIELDS, *refresh_sla(conversation), "updated_at"])
    record_event(
        kind=Event.Kind.STATUS_CHANGED,
        actor=by,
        conversation=conversation,
        old=old,
        new=status,
        **({"snoozed_until": snoozed_until.isoformat()} if status == Status.SNOOZED else {}),
    )
    live.send_on_commit([conversation])
    return conversation


NOTE_MAX_LENGTH = 10_000


# What Conversation.move_to changes.
STATUS_FIELDS = ["status", "snoozed_until", "resolved_at", "sla_pauses", "awaiting_since"]

# What refresh_sla reads besides the conversation: select_related these with it.
CLOCK_RELATED = ("queue__sla_policy", "queue__calendar", "customer")

# What refresh_sla sets; a verb that calls it saves these too.
SLA_FIELDS = [
    "first_response_due_at",
    "next_response_due_at",
    "resolution_due_at",
    "sla_due_at",
    "sla_alert_at",
    "sla_alerts_done",
]


def sla_targets(conversation: Conversation, *, tier: str | None = None) -> sla.Targets:
    """What the queue's policy promises this conversation (by its priority and the customer's tier)."""
    policy = conversation.queue.sla_policy if conversation.queue_id else None
    if policy is None:
        return sla.NO_TARGETS
    return policy.targets(priority=conversation.priority, tier=tier or conversation.customer.tier)


def business_hours(conversation: Conversation) -> BusinessHours:
    return conversation.queue.business_hours if conversation.queue_id else BusinessHours.always_open()


def clock_state(conversation: Conversation) -> sla.ClockState:
    return sla.ClockState(
        started_at=conversation.created_at,
        awaiting_since=conversation.awaiting_since,
        first_response_at=conversation.first_response_at,
        resolved=conversation.status == Status.RESOLVED,
        pauses=conversation.pauses(),
    )


def refresh_sla(conversation: Conversation, *, tier: str | None = None) -> list[str]:
    """Set the conversation's SLA due times from its state, queue and priority: the one function that
    does (triage.sla has the rules). Every verb that changes the status, queue, priority, or who owes
    whom an answer calls it. Does not save; returns the fields it sets (SLA_FIELDS).

    A clock that stopped keeps its due time. When the earliest due time moves, the deadline checker
    starts its alerts for the new one from the first (due soon).
    """
    targets = sla_targets(conversation, tier=tier)
    due = sla.due_times(clock_state(conversation), targets, business_hours(conversation))
    for clock, moment in due.items():
        setattr(conversation, f"{clock}_due_at", moment)
    earliest = sla.earliest(due)
    next_due = earliest[1] if earliest else None
    if next_due != conversation.sla_due_at:
        conversation.sla_due_at, conversation.sla_alerts_done = next_due, 0
    alerts = sla.alerts(next_due, targets) if next_due else []
    done = conversation.sla_alerts_done
    conversation.sla_alert_at = alerts[done].at if done < len(alerts) else None
    return SLA_FIELDS


WORKABLE = (Status.NEW, Status.OPEN)


_MENTION = re.compile(r"(?<![\w@])@([\w.+-]{1,150})")


def _may_work(agent, conversation: Conversation) -> bool:

    if not agent.is_active:
        return False
    return is_supervisor(agent) or agent.queues.filter(pk=conversation.queue_id, is_active=True).exists()


@transaction.atomic
def assign_conversation(*, conversation: Conversation, agent, by) -> Conversation:
    """Give the conversation to an agent who works its queue (None unassigns). A new one becomes open."""
    conversation = (
        Conversation.objects.select_for_update(of=("self",)).select_related("assignee").get(pk=conversation.pk)
    )
    if agent is not None and not _may_work(agent, conversation):
        raise Refused(f"{agent.get_full_name() or agent.get_username()} does not work this conversation's queue.")
    old = conversation.assignee
    if (old.pk if old else None) == (agent.pk if agent else None):
        return conversation
    conversation.assignee = agent
    fields = ["assignee", "updated_at"]
    if agent is not None and conversation.status == Status.NEW:
        conversation.move_to(Status.OPEN, now=timezone.now())
        fields += STATUS_FIELDS
    conversation.save(update_fields=fields)
    record_event(
        kind=Event.Kind.ASSIGNED,
        actor=by,
        conversation=conversation,
        old=old.get_username() if old else "",
        new=agent.get_username() if agent else "",
    )
    live.send_on_commit([conversation])
    return conversation


def get_next(*, agent) -> Conversation | None:
    """Claim the most urgent unassigned conversation in the agent's queues, or None when none waits.

    Atomic: the row is locked with SKIP LOCKED, so agents pressing it at the same moment each get a
    different conversation, and none waits for another's transaction.
    """

    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(queue__in=queues_visible_to(agent).values("pk"), assignee__isnull=True, status__in=WORKABLE)
            .order_by(F("priority").desc(), F("first_response_due_at").asc(nulls_last=True), "created_at", "pk")
            .first()
        )
        if conversation is None:
            return None
        conversation.assignee = agent
        if conversation.status == Status.NEW:
            conversation.move_to(Status.OPEN, now=timezone.now())
        conversation.save(update_fields=["assignee", *STATUS_FIELDS, "updated_at"])
        record_event(
            kind=Event.Kind.ASSIGNED,
            actor=agent,
            conversation=conversation,
            old="",
            new=agent.get_username(),
            via="get next",
        )
        live.send_on_commit([conversation])
    return conversation


@transaction.atomic
def add_note(*, conversation: Conversation, author, text: str) -> Note:
    """An internal note; @username mentions colleagues who may see the conversation (others are ignored)."""

    text = text.strip()
    if not text:
        raise Refused("A note needs some text.")
    if "\x00" in text:
        raise Refused("The note contains a NUL character; paste it again as plain text.")
    if len(text) > NOTE_MAX_LENGTH:
        raise Refused(f"A note holds at most {NOTE_MAX_LENGTH:,} characters.")
    note = Note.objects.create(conversation=conversation, author=author, text=text)
    named = {name.rstrip(".").lower() for name in _MENTION.findall(text)}
    colleagues = []
    if named:
        User = get_user_model()
        by_name = Q()
        for name in sorted(named)[:20]:
            by_name |= Q(**{f"{User.USERNAME_FIELD}__iexact": name})
        colleagues = [
            user
            for user in User.objects.filter(by_name, is_active=True).exclude(pk=author.pk)
            if conversations_visible_to(user).filter(pk=conversation.pk).exists()
        ]
    note.mentions.set(colleagues)
    for colleague in colleagues:
        transaction.on_commit(lambda pk=colleague.pk: _tell_mentioned(pk, conversation, author), robust=True)
    record_event(
        kind=Event.Kind.NOTE_ADDED,
        actor=author,
        conversation=conversation,
        note=note.pk,
        mentions=[user.get_username() for user in colleagues],
    )
    live.send_on_commit([conversation.pk])
    return note


def _tell_mentioned(user_id: int, conversation: Conversation, author) -> None:
    html = render_to_string("inbox/live.html#mention", {"conversation": conversation, "author": author})
    live.notify_user(user_id, "mention", html)


def wake_snoozed(*, now: datetime | None = None) -> int:
    """Reopen snoozed conversations whose wake-up time has come; returns how many woke."""
    now = now or timezone.now()
    woken = 0
    for pk in Conversation.objects.filter(status=Status.SNOOZED, snoozed_until__lte=now).values_list("pk", flat=True):
        with transaction.atomic():
            conversation = (
                Conversation.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related(*CLOCK_RELATED)
                .filter(pk=pk, status=Status.SNOOZED, snoozed_until__lte=now)
                .first()
            )
            if conversation is None:
                continue
            conversation.move_to(Status.OPEN, now=now)
            conversation.save(update_fields=[*STATUS_FIELDS, *refresh_sla(conversation), "updated_at"])
            record_event(kind=Event.Kind.STATUS_CHANGED, conversation=conversation, old=Status.SNOOZED, new=Status.OPEN)
            live.send_on_commit([conversation])
            woken += 1
    return woken


@transaction.atomic
def change_priority(*, conversation: Conversation, priority: int, by) -> Conversation:
    """Set the priority; the SLA due times follow it (a policy may promise each priority other times)."""
    conversation = (
        Conversation.objects.select_for_update(of=("self",)).select_related(*CLOCK_RELATED).get(pk=conversation.pk)
    )
    if priority not in Priority.values:
        raise Refused("Choose low, normal, high or urgent.")
    old = conversation.priority
    if old == priority:
        return conversation
    conversation.priority = priority
    conversation.save(update_fields=["priority", *refresh_sla(conversation), "updated_at"])
    record_event(kind=Event.Kind.PRIORITY_CHANGED, actor=by, conversation=conversation, old=old, new=priority)
    live.send_on_commit([conversation])
    return conversation


@transaction.atomic
def set_labels(*, conversation: Conversation, labels, by) -> Conversation:
    """Replace the conversation's labels with these (existing Label rows)."""
    conversation = Conversation.objects.select_for_update(of=("self",)).get(pk=conversation.pk)
    old = sorted(conversation.labels.values_list("name", flat=True))
    new = sorted(label.name for label in labels)
    if old != new:
        conversation.labels.set(labels)
        record_event(kind=Event.Kind.LABELS_CHANGED, actor=by, conversation=conversation, old=old, new=new)
        live.send_on_commit([conversation])
    return conversation
