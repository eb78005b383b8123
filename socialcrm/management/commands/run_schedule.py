import logging
import time
from datetime import timedelta

from celery.schedules import schedule
from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from socialcrm.celery import app

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Run beat's schedule (CELERY_BEAT_SCHEDULE) in this process, each task in-process when its time comes: "
        "the embedded default's beat, without Redis (make run starts it). With REDIS_URL, run Celery beat instead."
    )

    def handle(self, *args, **options):
        entries = {
            name: (
                entry["task"],
                entry["schedule"]
                if hasattr(entry["schedule"], "is_due")
                else schedule(timedelta(seconds=entry["schedule"]), app=app),
                entry.get("kwargs", {}),
            )
            for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
        }
        last_run = dict.fromkeys(entries, timezone.now())
        self.stdout.write(f"Running {len(entries)} scheduled tasks in-process: {', '.join(entries)}")
        try:
            while True:
                for name, (task, when, kwargs) in entries.items():
                    if not when.is_due(last_run[name]).is_due:
                        continue
                    last_run[name] = timezone.now()
                    try:
                        app.tasks[task].apply(kwargs=kwargs)
                    except Exception:  # one failing run must not stop the schedule; the next run tries again
                        logger.exception("scheduled task %s failed", task)
                time.sleep(1)
        except KeyboardInterrupt:
            pass
