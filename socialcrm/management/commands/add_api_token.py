"""Issue an API token for a machine client and print it once, as one JSON line."""

import json

from django.core.management.base import BaseCommand

from socialcrm.models import ApiToken


class Command(BaseCommand):
    help = 'Create an API token limited to one scope; prints {"token": ...} (shown once, stored hashed).'

    def add_arguments(self, parser):
        # A channel's ingest token is issued with its channel, by add_channel (and --rotate there).
        scopes = [scope for scope in ApiToken.Scope.values if scope != ApiToken.Scope.INGEST]
        parser.add_argument("--scope", choices=scopes, required=True)
        parser.add_argument("--name", default="", help="Who or what will use it (shown in admin).")

    def handle(self, *args, scope: str, name: str, **options):
        token, secret = ApiToken.issue(name=name.strip()[:100] or f"{scope} client", scope=scope)
        self.stdout.write(json.dumps({"token": secret, "id": token.pk, "scope": scope}))
