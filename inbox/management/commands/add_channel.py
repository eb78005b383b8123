import json

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.text import slugify

from customers.models import Network
from inbox.models import Channel
from inbox.tokens import issue_token

# Where a connector's authors live, unless --network says otherwise.
DEFAULT_NETWORK = {
    Channel.Kind.WEBHOOK: Network.WEB,
    Channel.Kind.FACEBOOK: Network.FACEBOOK,
    Channel.Kind.INSTAGRAM: Network.INSTAGRAM,
    Channel.Kind.X: Network.X,
    Channel.Kind.RSS: Network.WEB,
    Channel.Kind.EMAIL: Network.EMAIL,
}


class Command(BaseCommand):
    help = (
        'Create a channel (safe to run again) and print {"slug": ..., "token": ...} as one JSON line. '
        "An existing channel keeps its token (printed as null) unless --rotate is given."
    )

    def add_arguments(self, parser):
        parser.add_argument("--kind", required=True, choices=Channel.Kind.values)
        parser.add_argument("--name", required=True)
        parser.add_argument("--slug", required=True)
        parser.add_argument("--network", choices=Network.values, help="Defaults from the kind.")
        parser.add_argument("--rotate", action="store_true", help="Issue a new token; the old one stops working.")

    @transaction.atomic
    def handle(self, *args, kind, name, slug, network, rotate, **options):
        if slugify(slug) != slug:
            raise CommandError(
                f"--slug must be lowercase letters, digits and hyphens, e.g. {slugify(slug) or 'x-main'}."
            )
        network = network or DEFAULT_NETWORK[kind]
        channel = Channel.objects.select_for_update().filter(slug=slug).first()
        if channel is None:
            channel = Channel.objects.create(slug=slug, name=name, kind=kind, network=network)
            created = True
        else:
            created = False
            if channel.kind != kind:
                raise CommandError(
                    f"Channel '{slug}' exists with kind '{channel.kind}', not '{kind}'; nothing changed."
                )
            if channel.name != name:
                channel.name = name
                channel.save(update_fields=["name"])
        token = issue_token(channel) if created or rotate or channel.api_token_id is None else None
        if token is None:
            self.stderr.write(f"Channel '{slug}' exists; its token is unchanged (use --rotate for a new one).")
        self.stdout.write(json.dumps({"slug": channel.slug, "token": token}))
