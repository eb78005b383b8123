from django.core.management.base import BaseCommand, CommandError

from inbox.services.deadlines import recompute_deadlines
from socialcrm.progress import ProgressBar
from triage.models import Queue


class Command(BaseCommand):
    help = (
        "Compute the SLA due times of open conversations again (after an upgrade, or a policy or calendar "
        "change made outside admin). Admin does this by itself, in a task, when a policy or calendar is saved."
    )

    def add_arguments(self, parser):
        parser.add_argument("--queue", action="append", metavar="SLUG", help="Only this queue (repeatable).")

    def handle(self, *args, queue, **options):
        queue_ids = None
        if queue:
            found = dict(Queue.objects.filter(slug__in=queue).values_list("slug", "pk"))
            unknown = sorted(set(queue) - set(found))
            if unknown:
                raise CommandError(
                    f"No queue {', '.join(unknown)}; known: {', '.join(Queue.objects.values_list('slug', flat=True))}"
                )
            queue_ids = list(found.values())
        bar = ProgressBar(None, label="open conversations", stream=self.stderr)
        changed = recompute_deadlines(queue_ids=queue_ids, progress=bar)
        bar.finish()
        self.stdout.write(f"{changed:,} of {bar.total or 0:,} open conversations have new due times.")
