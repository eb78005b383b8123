"""Add up the report rollups again from every conversation (after an upgrade or a change of BRAND_TIME_ZONE)."""

from django.core.management.base import BaseCommand

from reports.rollups import rebuild
from socialcrm.progress import ProgressBar


class Command(BaseCommand):
    help = "Rebuild the reports' hourly and daily rollups from the conversations, with a progress bar."

    def add_arguments(self, parser):
        parser.add_argument("--chunk", type=int, default=5000, help="Conversations per transaction.")

    def handle(self, *args, chunk: int, **options):
        if chunk < 1:
            self.stderr.write("--chunk must be at least 1")
            raise SystemExit(2)
        bar = ProgressBar(None, label="Conversations", stream=self.stderr)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done)

        counted = rebuild(progress=progress, chunk=chunk)
        bar.finish()
        self.stdout.write(self.style.SUCCESS(f"Counted {counted:,} conversations into the report rollups."))
