"""Retraining once agents' corrections pile up (the corrections themselves: inbox.services.triage)."""

from django.core.cache import cache

from triage.models import Correction, TriageSettings
from triage.tasks import retrain_classifiers

RETRAIN_ENQUEUED_KEY = "triage:retrain-enqueued"
RETRAIN_EVERY = 10 * 60  # at most one retraining enqueued by corrections per ten minutes (also a backoff)


def retrain_if_due() -> bool:
    """Enqueue a retraining once enough new corrections are waiting (each message or conversation counts once)."""
    threshold = TriageSettings.load().retrain_after_corrections
    waiting = (
        Correction.objects.filter(used_in__isnull=True).values("field", "message_id", "conversation_id").distinct()
    )
    if waiting.count() < threshold:
        return False
    if not cache.add(RETRAIN_ENQUEUED_KEY, 1, timeout=RETRAIN_EVERY):
        return False
    retrain_classifiers.delay(reason=f"{threshold}+ new corrections")
    return True
