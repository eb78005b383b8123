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
from triage.models import Priority, Queue

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
    conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
    old = conversation.status
    conversation.move_to(status, now=timezone.now(), snoozed_until=snoozed_until)
    conversation.save(update_fields=["status", "snoozed_until", "resolved_at", "updated_at"])
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


def sla_due_times(queue: Queue | None, *, start: datetime, priority: int = Priority.NORMAL) -> dict:
    """When the first reply and the resolution fall due under the queue's SLA policy (none without one),
    counted in the queue's business hours."""
    policy = queue.sla_policy if queue else None
    if policy is None:
        return {"first_response_due_at": None, "resolution_due_at": None}
    factor = policy.urgent_factor if priority == Priority.URGENT else 1.0
    return {
        "first_response_due_at": queue.business_hours.due_at(start, policy.first_response_minutes * factor),
        "resolution_due_at": queue.business_hours.due_at(start, policy.resolution_minutes * factor),
    }


def recompute_sla(conversation: Conversation) -> list[str]:
    """Due times again from the conversation's queue and priority (after either changed). Does not save.

    A first reply already given keeps its due time as history. Returns the fields changed.
    """
    due = sla_due_times(conversation.queue, start=conversation.created_at, priority=conversation.priority)
    if conversation.first_response_at is None:
        conversation.first_response_due_at = due["first_response_due_at"]
    conversation.resolution_due_at = due["resolution_due_at"]
    return ["first_response_due_at", "resolution_due_at"]


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
        fields += ["status", "snoozed_until", "resolved_at"]
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
        conversation.save(update_fields=["assignee", "status", "snoozed_until", "resolved_at", "updated_at"])
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
                Conversation.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=Status.SNOOZED, snoozed_until__lte=now)
                .first()
            )
            if conversation is None:
                continue
            conversation.move_to(Status.OPEN, now=now)
            conversation.save(update_fields=["status", "snoozed_until", "resolved_at", "updated_at"])
            record_event(kind=Event.Kind.STATUS_CHANGED, conversation=conversation, old=Status.SNOOZED, new=Status.OPEN)
            live.send_on_commit([conversation])
            woken += 1
    return woken


@transaction.atomic
def change_priority(*, conversation: Conversation, priority: int, by) -> Conversation:
    """Set the priority; becoming or ceasing to be urgent moves the SLA due times with it."""
    conversation = (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("queue__sla_policy", "queue__calendar")
        .get(pk=conversation.pk)
    )
    if priority not in Priority.values:
        raise Refused("Choose low, normal, high or urgent.")
    old = conversation.priority
    if old == priority:
        return conversation
    conversation.priority = priority
    fields = ["priority", "updated_at"]
    if Priority.URGENT in (old, priority):
        fields += recompute_sla(conversation)
    conversation.save(update_fields=fields)
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
