import itertools
import signal
import time

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo.data import DEMO_CHANNELS
from demo.stream import MentionStream
from inbox.models import Channel
from inbox.tokens import issue_token

# The demo's social channels; the e-mail channel is left to its mailbox.
DEFAULT_CHANNELS = [slug for slug, _, kind, _, _ in DEMO_CHANNELS if kind != Channel.Kind.EMAIL]


class Command(BaseCommand):
    help = (
        "Post synthetic mentions to the ingest API over HTTP, as a platform would: several networks, "
        "replies and duplicate deliveries. Issues the channels new API tokens: use it on demo channels only."
    )

    def add_arguments(self, parser):
        parser.add_argument("--rate", type=float, default=1.0, help="Mentions per second (default 1).")
        parser.add_argument("--duration", type=float, default=60, help="Seconds to run; 0 runs until Ctrl-C.")
        parser.add_argument("--channel", action="append", help="A channel slug (repeatable). Default: the demo's.")
        parser.add_argument("--batch", type=int, default=1, help="Mentions per request (1 to 1000).")
        parser.add_argument("--url", help="The app's base URL. Default: http://HOST:PORT.")
        parser.add_argument("--seed", type=int, help="Make the stream reproducible.")

    def handle(self, *args, rate, duration, channel, batch, url, seed, **options):
        if rate <= 0 or duration < 0 or not 1 <= batch <= 1000:
            raise CommandError("--rate must be above 0, --duration 0 or more, --batch from 1 to 1000.")
        slugs = channel or DEFAULT_CHANNELS
        channels = {c.slug: c for c in Channel.objects.filter(slug__in=slugs, is_active=True)}
        missing = [slug for slug in slugs if slug not in channels]
        if missing:
            raise CommandError(f"No active channel {', '.join(missing)}; run `manage.py load_demo` or add_channel.")
        tokens = {slug: issue_token(channels[slug]) for slug in slugs}
        base = (url or f"http://{settings.HOST}:{settings.PORT}").rstrip("/")
        streams = {slug: MentionStream(seed=None if seed is None else seed + n) for n, slug in enumerate(slugs)}
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        counts = {"sent": 0, "accepted": 0, "duplicates": 0, "failed": 0}
        started = time.monotonic()
        interval = batch / rate
        with httpx.Client(base_url=base, timeout=httpx.Timeout(30.0, connect=5.0)) as client:
            try:
                for tick in itertools.count():
                    if stopping or (duration and time.monotonic() - started >= duration):
                        break
                    slug = slugs[tick % len(slugs)]
                    mentions = [next(streams[slug]) for _ in range(batch)]
                    self._post(client, slug, tokens[slug], mentions, counts)
                    pause = started + (tick + 1) * interval - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
            except KeyboardInterrupt:
                pass
        elapsed = time.monotonic() - started
        self.stdout.write(
            f"sent {counts['sent']:,} mentions in {elapsed:.1f} s ({counts['sent'] / max(elapsed, 1e-9):.1f}/s): "
            f"accepted {counts['accepted']:,}, duplicates {counts['duplicates']:,}, failed {counts['failed']:,}"
        )

    def _post(self, client: httpx.Client, slug: str, token: str, mentions: list[dict], counts: dict) -> None:
        body = {"mentions": mentions} if len(mentions) > 1 else mentions[0]
        counts["sent"] += len(mentions)
        try:
            response = client.post(
                f"/api/v1/channels/{slug}/mentions", json=body, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as problem:
            counts["failed"] += len(mentions)
            self.stderr.write(f"{slug}: {problem.__class__.__name__}: {problem}")
            return
        if response.status_code != 202:
            counts["failed"] += len(mentions)
            self.stderr.write(f"{slug}: HTTP {response.status_code}: {response.text[:200]}")
            return
        result = response.json()
        counts["accepted"] += result["accepted"]
        counts["duplicates"] += result["duplicates"]
