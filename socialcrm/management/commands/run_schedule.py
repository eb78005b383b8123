import time

from django.conf import settings
from django.core.management.base import BaseCommand

from socialcrm.schedule import Schedule


class Command(BaseCommand):
    help = (
        "Run beat's schedule (CELERY_BEAT_SCHEDULE) in this process, each task in-process when its time comes, "
        "for a setup without Redis. (make run does this inside the web process; with REDIS_URL, run Celery beat.)"
    )

    def handle(self, *args, **options):
        schedule = Schedule()
        self.stdout.write(f"Running {len(settings.CELERY_BEAT_SCHEDULE)} scheduled tasks in-process")
        try:
            while True:
                schedule.run_due()
                time.sleep(1)
        except KeyboardInterrupt:
            pass
