"""Celery wrappers for the polling connectors; each takes ids and is safe to run twice."""

from celery import shared_task
from django.utils import timezone

from inbox.connectors import imap, rss
from inbox.connectors.polling import is_due
from inbox.models import Channel, Message


@shared_task(acks_late=True, ignore_result=True)
def poll_feed(channel_id: int) -> str:
    channel = Channel.objects.filter(pk=channel_id, is_active=True, kind=Channel.Kind.RSS).first()
    return rss.poll_feed(channel).status if channel else "gone"


@shared_task(acks_late=True, ignore_result=True)
def poll_mailbox(channel_id: int) -> str:
    channel = Channel.objects.filter(pk=channel_id, is_active=True, kind=Channel.Kind.EMAIL).first()
    return imap.poll_mailbox(channel).status if channel else "gone"


@shared_task(ignore_result=True)
def poll_due_channels() -> int:
    """Enqueue a poll for every active feed and mailbox whose interval has passed (run by beat)."""
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
    from inbox.services import wake_snoozed

    return wake_snoozed()


# Seconds a send may take before the worker kills it (prefork pool); well within services.SEND_TIMEOUT.
DELIVER_TIME_LIMIT = 120


@shared_task(bind=True, acks_late=True, ignore_result=True, time_limit=DELIVER_TIME_LIMIT)
def deliver_reply(self, message_id: int) -> str:
    """Send a queued reply; on a passing failure, try again after 30 s, 1, 2, 4 minutes, then mark it failed.

    Safe to run twice, or on two workers at once: the reply is claimed ("sending") before it is sent,
    and one found "sending" is never sent again blindly (inbox.services.deliver).
    """
    from inbox.services import RETRY_BACKOFF, deliver

    state = deliver(message_id=message_id)
    if state == "queued":
        attempts = Message.objects.filter(pk=message_id).values_list("delivery_attempts", flat=True).first() or 1
        wait = RETRY_BACKOFF[min(attempts, len(RETRY_BACKOFF)) - 1]
        deliver_reply.apply_async((message_id,), countdown=wait.total_seconds())
    return state


@shared_task(ignore_result=True)
def sweep_stuck_replies() -> int:
    """Re-enqueue or fail replies left queued or sending by a lost task or a killed worker (beat, each minute)."""
    from inbox.services import sweep_stuck_replies

    return sweep_stuck_replies()
