from django.core.management.base import BaseCommand

from demo.data import BRAND, load_demo


class Command(BaseCommand):
    help = "Load the demo brand (channels, customers, conversations, users). Safe to run again."

    def handle(self, *args, **options):
        summary = load_demo()
        if summary.created:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Loaded the {BRAND} demo: {summary.customers} customers, "
                    f"{summary.conversations} conversations, {summary.messages} messages."
                )
            )
        else:
            self.stdout.write(f"The {BRAND} demo is already loaded; nothing added.")
