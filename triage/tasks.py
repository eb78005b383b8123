"""Celery wrappers around triage; each takes ids and is safe to run twice."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

# A message still queued this long after it arrived lost its task (a worker died, Redis restarted).
LOST_AFTER = timedelta(minutes=2)
SWEEP_BATCH = 1000


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def triage_messages(message_ids: list[int]) -> int:
    """Take up newly stored messages. Until classifiers exist they wait for triage; returns how many moved."""
    from inbox.models import Message

    return Message.objects.filter(pk__in=message_ids, triage_state=Message.TriageState.QUEUED).update(
        triage_state=Message.TriageState.WAITING, processed_at=timezone.now()
    )


@shared_task(ignore_result=True)
def sweep_lost_messages(older_than_seconds: float = LOST_AFTER.total_seconds()) -> int:
    """Re-enqueue messages whose triage task never ran (beat runs this each minute).

    Returns how many were re-enqueued. Enqueueing one that is merely slow is harmless: the task
    only takes up messages still queued.
    """
    from inbox.models import Message

    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        Message.objects.filter(triage_state=Message.TriageState.QUEUED, received_at__lt=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)
    )
    for start in range(0, len(ids), SWEEP_BATCH):
        triage_messages.delay(ids[start : start + SWEEP_BATCH])
    return len(ids)
