"""Beat's schedule (CELERY_BEAT_SCHEDULE) run without Celery beat: for the embedded default, no Redis.

`make run` without REDIS_URL runs it inside the web process (socialcrm.asgi), where the in-memory
channel layer lives, so what a scheduled task publishes (an SLA breach, a woken conversation) reaches
the browsers; `manage.py run_schedule` runs it on its own.
"""

import logging
from datetime import timedelta

from celery.schedules import schedule
from django.conf import settings
from django.utils import timezone

from socialcrm.celery import app

logger = logging.getLogger(__name__)


class Schedule:
    """`run_due()` runs, in this process, each scheduled task whose time has come."""

    def __init__(self):
        self.entries = {
            name: (
                entry["task"],
                entry["schedule"]
                if hasattr(entry["schedule"], "is_due")
                else schedule(timedelta(seconds=entry["schedule"]), app=app),
                entry.get("kwargs", {}),
            )
            for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
        }
        self.last_run = dict.fromkeys(self.entries, timezone.now())

    def run_due(self) -> None:
        for name, (task, when, kwargs) in self.entries.items():
            if not when.is_due(self.last_run[name]).is_due:
                continue
            self.last_run[name] = timezone.now()
            try:
                app.tasks[task].apply(kwargs=kwargs)
            except Exception:  # one failing run must not stop the schedule; the next run tries again
                logger.exception("scheduled task %s failed", task)
