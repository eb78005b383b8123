"""Add up the report rollups again from every conversation (after an upgrade or a change of BRAND_TIME_ZONE)."""

import os

from django.core.management.base import BaseCommand

from reports.rollups import rebuild
from socialcrm.progress import ProgressBar


class Command(BaseCommand):
    help = "Rebuild the reports' hourly and daily rollups from the conversations, with a progress bar."

    def add_arguments(self, parser):
        parser.add_argument("--chunk", type=int, default=5000, help="Conversations per transaction.")
        parser.add_argument(
            "--workers",
            type=int,
            default=min(4, os.cpu_count() or 1),
            help="Processes that add up chunks at once (PostgreSQL; SQLite uses one). Default: the cores, up to 4.",
        )

    def handle(self, *args, chunk: int, workers: int, **options):
        if chunk < 1 or workers < 1:
            self.stderr.write("--chunk and --workers must be at least 1")
            raise SystemExit(2)
        bar = ProgressBar(None, label="Conversations", stream=self.stderr)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done)

        counted = rebuild(progress=progress, chunk=chunk, workers=workers)
        bar.finish()
        self.stdout.write(self.style.SUCCESS(f"Counted {counted:,} conversations into the report rollups."))
