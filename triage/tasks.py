"""Celery wrappers around triage; each takes ids and is safe to run twice."""

import uuid
from datetime import timedelta

from celery import shared_task
from django.core.cache import cache
from django.db import InterfaceError, OperationalError
from django.utils import timezone

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
    from triage import services

    return services.triage_messages(message_ids=message_ids)


@shared_task(ignore_result=True)
def sweep_lost_messages(older_than_seconds: float = LOST_AFTER.total_seconds()) -> int:
    """Re-enqueue messages whose triage task never ran (beat runs this each minute).

    Returns how many were re-enqueued. Enqueueing one that is merely slow is harmless: the task
    only takes up messages still untriaged.
    """
    from inbox.models import Message

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


RETRAIN_RUNNING_KEY = "triage:retrain-running"
RETRAIN_MAX_SECONDS = 60 * 60


@shared_task(acks_late=True, ignore_result=True)
def retrain_classifiers(reason: str = "nightly") -> list[int]:
    """Retrain every model from the seed set plus corrections; each becomes active only if not worse.

    One retraining at a time across all workers (corrections, the nightly run and admins all come
    here); a call while one runs returns at once. Returns the new versions' ids.
    """
    from triage.learning import Task, train_version

    owner = uuid.uuid4().hex
    if not cache.add(RETRAIN_RUNNING_KEY, owner, timeout=RETRAIN_MAX_SECONDS):
        return []
    try:
        return [train_version(task=task, reason=reason).pk for task in Task.values]
    finally:
        if cache.get(RETRAIN_RUNNING_KEY) == owner:  # release only our own lock
            cache.delete(RETRAIN_RUNNING_KEY)
