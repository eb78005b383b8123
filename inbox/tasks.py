"""Celery wrappers around the inbox's services; each takes ids and is safe to run twice.

Services import this module to enqueue its tasks, so a task imports the service it runs inside
its body: the one function-local import the layers allow, and only within the app.
"""

from datetime import timedelta

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from inbox.models import Channel, Message


@shared_task(acks_late=True, ignore_result=True)
def poll_feed(channel_id: int) -> str:
    from inbox.connectors import rss

    channel = Channel.objects.filter(pk=channel_id, is_active=True, kind=Channel.Kind.RSS).first()
    return rss.poll_feed(channel).status if channel else "gone"


@shared_task(acks_late=True, ignore_result=True)
def poll_mailbox(channel_id: int) -> str:
    from inbox.connectors import imap

    channel = Channel.objects.filter(pk=channel_id, is_active=True, kind=Channel.Kind.EMAIL).first()
    return imap.poll_mailbox(channel).status if channel else "gone"


@shared_task(ignore_result=True)
def poll_due_channels() -> int:
    """Enqueue a poll for every active feed and mailbox whose interval has passed (run by beat)."""
    from inbox.connectors.polling import is_due

    now = timezone.now()
    due = 0
    for channel in Channel.objects.filter(is_active=True, kind__in=[Channel.Kind.RSS, Channel.Kind.EMAIL]):
        configured = channel.config.get("feed_url" if channel.kind == Channel.Kind.RSS else "host")
        if configured and is_due(channel, now=now):
            (poll_feed if channel.kind == Channel.Kind.RSS else poll_mailbox).delay(channel.pk)
            due += 1
    return due


@shared_task(ignore_result=True)
def wake_snoozed_conversations() -> int:
    """Reopen conversations whose snooze is over (beat runs this each minute)."""
    from inbox.services.conversations import wake_snoozed

    return wake_snoozed()


@shared_task(ignore_result=True)
def check_sla_deadlines() -> int:
    """Warn, announce breaches and escalate where the moment has come (beat runs this every 5 s)."""
    from inbox.services.deadlines import check_deadlines

    return check_deadlines()


@shared_task(acks_late=True, ignore_result=True)
def recompute_sla_deadlines(queue_ids: list[int] | None = None, progress_key: str = "") -> int:
    """Due times again for the open conversations of these queues, after their policy or calendar
    changed; progress goes to the cache under `progress_key` (admin shows it)."""
    from inbox.services.deadlines import CacheProgress, recompute_deadlines

    return recompute_deadlines(queue_ids=queue_ids, progress=CacheProgress(progress_key) if progress_key else None)


# Seconds a send may take before the worker kills it (prefork pool); well within inbox.services.replies.SEND_TIMEOUT.
DELIVER_TIME_LIMIT = 120

# Tries per reply, and the waits between them: 30 s, 1, 2 and 4 minutes (Celery's retry_backoff doubles).
DELIVERY_ATTEMPTS = 5
RETRY_BACKOFF = tuple(timedelta(seconds=30 * 2**n) for n in range(DELIVERY_ATTEMPTS - 1))


class DeliveryDeferred(Exception):
    """The attempt failed in passing and the reply is queued again: Celery retries the task after its backoff."""


@shared_task(
    bind=True,
    acks_late=True,
    ignore_result=True,
    time_limit=DELIVER_TIME_LIMIT,
    autoretry_for=(DeliveryDeferred,),
    retry_backoff=int(RETRY_BACKOFF[0].total_seconds()),
    retry_backoff_max=int(RETRY_BACKOFF[-1].total_seconds()),
    retry_jitter=False,
    max_retries=len(RETRY_BACKOFF),
)
def deliver_reply(self, message_id: int) -> str:
    """Send a queued reply; on a passing failure Celery tries again after each RETRY_BACKOFF wait.

    Safe to run twice, or on two workers at once: the reply is claimed ("sending") before it is sent,
    and one found "sending" is never sent again blindly (inbox.services.replies.deliver). The reply's
    own delivery_attempts decides when it fails, so a task that runs out of retries (one re-enqueued
    by the sweep, say) leaves a reply that is still queued to the sweep rather than failing it.
    """
    from inbox.services.replies import deliver

    state = deliver(message_id=message_id)
    if state == Message.Delivery.QUEUED:
        raise DeliveryDeferred(f"reply {message_id} is queued for another try")
    return state


@shared_task(ignore_result=True)
def sweep_stuck_replies() -> int:
    """Re-enqueue or fail replies left queued or sending by a lost task or a killed worker (beat, each minute)."""
    from inbox.services.replies import sweep_stuck_replies

    return sweep_stuck_replies()


# A message still untriaged this long after it arrived lost its task (a worker died, Redis restarted).
LOST_AFTER = timedelta(minutes=2)
SWEEP_BATCH = 1000


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    # The database restarting or failing over: try again after about 1, 2, 4 ... 30 s rather than
    # leave the batch to the sweep's two minutes. Nothing was written (the writes are one transaction).
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=1,
    retry_backoff_max=30,
    max_retries=8,
)
def triage_messages(message_ids: list[int]) -> int:
    """Classify and route newly stored messages; returns how many were triaged."""
    from inbox.services import triage

    return triage.triage_messages(message_ids=message_ids)


@shared_task(ignore_result=True)
def sweep_lost_messages(older_than_seconds: float = LOST_AFTER.total_seconds()) -> int:
    """Re-enqueue messages whose triage task never ran (beat runs this each minute).

    Returns how many were re-enqueued. Enqueueing one that is merely slow is harmless: the task
    only takes up messages still untriaged.
    """
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        Message.objects.filter(
            triage_state__in=(Message.TriageState.QUEUED, Message.TriageState.WAITING), received_at__lt=cutoff
        )
        .order_by("received_at")
        .values_list("pk", flat=True)
    )
    for start in range(0, len(ids), SWEEP_BATCH):
        triage_messages.delay(ids[start : start + SWEEP_BATCH])
    return len(ids)
