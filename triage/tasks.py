"""Retraining the classifiers, one run at a time (the triage of messages runs in inbox.tasks)."""

import uuid

from celery import shared_task
from django.core.cache import cache

from triage.learning import Task, train_version

RETRAIN_RUNNING_KEY = "triage:retrain-running"
RETRAIN_MAX_SECONDS = 60 * 60


@shared_task(acks_late=True, ignore_result=True)
def retrain_classifiers(reason: str = "nightly") -> list[int]:
    """Retrain every model from the seed set plus corrections; each becomes active only if not worse.

    One retraining at a time across all workers (corrections, the nightly run and admins all come
    here); a call while one runs returns at once. Returns the new versions' ids.
    """
    owner = uuid.uuid4().hex
    if not cache.add(RETRAIN_RUNNING_KEY, owner, timeout=RETRAIN_MAX_SECONDS):
        return []
    try:
        return [train_version(task=task, reason=reason).pk for task in Task.values]
    finally:
        if cache.get(RETRAIN_RUNNING_KEY) == owner:  # release only our own lock
            cache.delete(RETRAIN_RUNNING_KEY)
