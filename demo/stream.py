"""Synthetic mentions for the live demo and for load tests, in the ingest API's JSON shape.

Questions, complaints, praise, purchase intent and feature requests about the demo brand, from
authors with 0 to millions of followers, some replying to earlier mentions and some delivered
twice, as platforms do.
"""

import random
import uuid
from collections import deque
from datetime import UTC, datetime

from demo.data import FIRST_NAMES, LAST_NAMES, PLACES, PRESS_TEXTS, PRODUCTS, TEXTS, TYPE_WEIGHTS
from triage.models import MessageType

REPLY_SHARE = 0.12
DUPLICATE_SHARE = 0.03


class MentionStream:
    """An endless, reproducible (for a seed) supply of mention objects for one channel."""

    def __init__(self, *, seed: int | None = None, authors: int = 400):
        self.rng = random.Random(seed)
        self.run = uuid.UUID(int=self.rng.getrandbits(128)).hex[:8]  # keeps ids of separate runs apart
        self.sequence = 0
        self.recent: deque[dict] = deque(maxlen=200)
        self.authors = [self._author(number) for number in range(authors)]

    def __iter__(self):
        return self

    def __next__(self) -> dict:
        if self.recent and self.rng.random() < DUPLICATE_SHARE:
            return self.rng.choice(self.recent)  # the platform delivers the same event again
        self.sequence += 1
        message_type = self.rng.choices(list(TYPE_WEIGHTS), weights=list(TYPE_WEIGHTS.values()))[0]
        template = self.rng.choice(TEXTS[message_type])
        if message_type == MessageType.COMPLAINT and self.rng.random() < 0.05:
            template = self.rng.choice(PRESS_TEXTS)
        mention = {
            "external_id": f"sim-{self.run}-{self.sequence}",
            "text": template.format(product=self.rng.choice(PRODUCTS), place=self.rng.choice(PLACES)),
            "author": self.rng.choice(self.authors),
            "posted_at": datetime.now(UTC).isoformat(),
            "private": self.rng.random() < 0.2,
        }
        if self.recent and self.rng.random() < REPLY_SHARE:
            mention["in_reply_to"] = self.rng.choice(self.recent)["external_id"]
        self.recent.append(mention)
        return mention

    def _author(self, number: int) -> dict:
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        # Most people have a few hundred followers; a few have millions.
        if self.rng.random() < 0.01:
            followers = self.rng.randint(500_000, 5_000_000)
        else:
            followers = min(int(self.rng.paretovariate(1.2) * 30) - 30, 2_000_000)
        handle = f"@{first}{last}{number}".lower().replace("'", "")
        return {
            "external_id": f"sim-author-{number}",
            "handle": handle,
            "name": f"{first} {last}",
            "followers": max(followers, 0),
            "verified": followers > 100_000 and self.rng.random() < 0.6,
        }
