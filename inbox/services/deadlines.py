"""SLA deadlines: warn before one, announce its breach, escalate after it, each to the people concerned.

A conversation's `sla_alert_at` is the moment of its next alert (inbox.services.conversations.refresh_sla
sets it); beat runs check_deadlines every few seconds over an index of just those moments, so a
breach is announced within seconds of its due time, not on a sweep of every open conversation.
"""

import logging
from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from inbox import live
from inbox.models import Conversation, Event, Status
from inbox.selectors import conversations_visible_to
from inbox.services.conversations import CLOCK_RELATED, SLA_FIELDS, record_event, refresh_sla, sla_targets
from socialcrm.progress import ProgressBar
from socialcrm.roles import SUPERVISOR_ROLES, Role
from triage import sla

logger = logging.getLogger(__name__)

# At most this many conversations a run; the next run (seconds later) takes the rest.
CHECK_BATCH = 500

_EVENT_KIND = {
    sla.Stage.DUE_SOON: Event.Kind.SLA_DUE_SOON,
    sla.Stage.BREACHED: Event.Kind.SLA_BREACHED,
    sla.Stage.ESCALATED: Event.Kind.SLA_ESCALATED,
}


def check_deadlines(*, now: datetime | None = None) -> int:
    """Make every alert whose moment has come (beat runs this every few seconds); returns how many."""
    now = now or timezone.now()
    made = 0
    due = Conversation.objects.filter(sla_alert_at__lte=now).order_by("sla_alert_at").values_list("pk", flat=True)
    for pk in due[:CHECK_BATCH]:
        with transaction.atomic():
            conversation = (
                Conversation.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related(*CLOCK_RELATED, "assignee")
                .filter(pk=pk, sla_alert_at__lte=now)
                .first()
            )
            if conversation is not None:  # else another checker has it, or it changed meanwhile
                made += _alert(conversation, now)
    return made


def _alert(conversation: Conversation, now: datetime) -> int:
    targets = sla_targets(conversation)
    owed = sla.alerts(conversation.sla_due_at, targets)[conversation.sla_alerts_done :]
    come = [alert for alert in owed if alert.at <= now]
    # A warning the breach has overtaken (the checker was stopped) is not made late: the breach says more.
    made = [alert for alert in come if not (alert.stage is sla.Stage.DUE_SOON and len(come) > 1)]
    clock = _clock_due(conversation)
    for alert in made:
        _act(conversation, alert, clock)
    if come:
        conversation.sla_alerts_done = come[-1].number + 1
    conversation.save(update_fields=["assignee", *refresh_sla(conversation), "updated_at"])
    live.send_on_commit([conversation])
    return len(made)


def _clock_due(conversation: Conversation) -> sla.Clock:
    """Which running clock sla_due_at is the due time of."""
    for clock in (sla.Clock.FIRST_RESPONSE, sla.Clock.NEXT_RESPONSE, sla.Clock.RESOLUTION):
        if getattr(conversation, f"{clock}_due_at") == conversation.sla_due_at:
            return clock
    return sla.Clock.RESOLUTION


def _act(conversation: Conversation, alert: sla.Alert, clock: sla.Clock) -> None:
    action = alert.escalation.action if alert.escalation else sla.Action.NOTIFY_ASSIGNEE
    if action is sla.Action.NOTIFY_MANAGERS:
        people = managers_of(conversation)
    elif action is sla.Action.REASSIGN_TO_QUEUE and conversation.assignee_id is not None:
        taken_from = conversation.assignee
        conversation.assignee = None  # it stays open, for whoever in the queue takes it up
        record_event(
            kind=Event.Kind.ASSIGNED,
            conversation=conversation,
            old=taken_from.get_username(),
            new="",
            via="sla escalation",
        )
        people = [taken_from, *queue_agents(conversation)]
    else:
        people = concerned(conversation)
    # Told only to those the shared selector lets see it (a reassigned agent outside the queue is not).
    people = [
        person
        for person in {person.pk: person for person in people if person.is_active}.values()
        if conversations_visible_to(person).filter(pk=conversation.pk).exists()
    ]
    record_event(
        kind=_EVENT_KIND[alert.stage],
        conversation=conversation,
        clock=str(clock),
        due_at=conversation.sla_due_at.isoformat(),
        level=alert.number,
        action=str(action),
        notified=sorted(person.get_username() for person in people),
    )
    html = render_to_string(
        "inbox/live.html#sla",
        {"conversation": conversation, "alert": alert, "clock": clock, "due_at": conversation.sla_due_at},
    )
    for person in people:
        transaction.on_commit(lambda pk=person.pk: live.notify_user(pk, "sla", html), robust=True)


def concerned(conversation: Conversation) -> list:
    """Who a warning or breach is for: the assignee, or, while nobody has it, the agents of its queue."""
    if conversation.assignee_id is not None:
        return [conversation.assignee]
    return queue_agents(conversation)


def queue_agents(conversation: Conversation) -> list:
    if not conversation.queue_id:
        return []
    return list(conversation.queue.members.filter(is_active=True))


def managers_of(conversation: Conversation) -> list:
    """The queue's managers: its members who supervise, else every manager (never every admin)."""
    managing = get_user_model().objects.filter(
        Q(is_superuser=True) | Q(groups__name__in=SUPERVISOR_ROLES), is_active=True
    )
    members = list(managing.filter(queues=conversation.queue_id).distinct()) if conversation.queue_id else []
    return members or list(get_user_model().objects.filter(is_active=True, groups__name=Role.MANAGER))


class CacheProgress:
    """Progress of a recompute kept in the cache under a key, for admin to show (triage.models.recompute_progress)."""

    def __init__(self, key: str):
        self.key, self.total = key, 0

    def update(self, done: int) -> None:
        cache.set(self.key, {"done": done, "total": self.total}, timeout=3600)


def recompute_deadlines(*, queue_ids=None, progress: ProgressBar | CacheProgress | None = None) -> int:
    """Due times again for the open conversations of these queues (all when None), after their policy
    or calendar changed; returns how many changed. In chunks, each its own transaction."""
    open_ones = Conversation.objects.exclude(status=Status.RESOLVED)
    if queue_ids is not None:
        open_ones = open_ones.filter(queue_id__in=queue_ids)
    pks = list(open_ones.order_by("pk").values_list("pk", flat=True))
    if progress is not None:
        progress.total = len(pks)
        progress.update(0)
    changed = 0
    for start in range(0, len(pks), 200):
        with transaction.atomic():
            batch = (
                Conversation.objects.select_for_update(of=("self",))
                .select_related(*CLOCK_RELATED)
                .filter(pk__in=pks[start : start + 200])
                .order_by("pk")
            )
            for conversation in batch:
                before = [getattr(conversation, field) for field in SLA_FIELDS]
                fields = refresh_sla(conversation)
                if [getattr(conversation, field) for field in SLA_FIELDS] != before:
                    conversation.save(update_fields=[*fields, "updated_at"])
                    live.send_on_commit([conversation])
                    changed += 1
        if progress is not None:
            progress.update(min(start + 200, len(pks)))
    return changed
