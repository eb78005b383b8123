"""Celery wrappers around the reports' services; each takes ids and is safe to run twice."""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def refresh_rollups(conversation_ids: list[int]) -> int:
    from reports.rollups import refresh

    return refresh(conversation_ids)
