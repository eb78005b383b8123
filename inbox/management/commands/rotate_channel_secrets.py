from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from inbox.models import Channel, SecretsUnreadable


class Command(BaseCommand):
    help = (
        "Re-encrypt every channel's secrets under the first key of CHANNEL_SECRETS_KEYS, after a new key was "
        "put in front; once it succeeds the old keys can be removed. Safe to run again. Channels whose secrets "
        "no key opens are named and left as they are (exit status 1)."
    )

    def handle(self, *args, **options):
        rotated, unreadable = 0, []
        with transaction.atomic():
            # Locked, so no other writer slips in between reading a row and writing it back.
            for channel in Channel.objects.select_for_update().exclude(encrypted_secrets="").order_by("slug"):
                try:
                    channel.reencrypt_secrets()
                except SecretsUnreadable as problem:
                    unreadable.append(channel.slug)
                    self.stderr.write(str(problem))
                    continue
                channel.save(update_fields=["encrypted_secrets"])
                rotated += 1
        self.stdout.write(f"Re-encrypted the secrets of {rotated} channel(s) under the first key.")
        if unreadable:
            raise CommandError(
                f"{len(unreadable)} channel(s) could not be read with any key and were left as they were: "
                f"{', '.join(unreadable)}. Keep the old keys until they are restored or replaced in admin."
            )
