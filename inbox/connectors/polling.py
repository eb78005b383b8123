"""What the polling connectors (feeds, mailboxes) share: their result, their bookkeeping, HTML to text."""

import html
import logging
import re
from dataclasses import dataclass
from datetime import datetime

from django.db import DatabaseError
from django.utils import timezone
from django.utils.html import strip_tags

from inbox.mentions import IncomingMention, network_text
from inbox.models import Channel
from inbox.services.ingest import IngestResult, ingest

logger = logging.getLogger(__name__)


DEFAULT_POLL_SECONDS = 300


@dataclass(frozen=True)
class PollResult:
    status: str  # "fetched", "not_modified" or "error"
    accepted: int = 0
    duplicates: int = 0
    error: str = ""


def is_due(channel: Channel, *, now: datetime) -> bool:
    """Whether the channel's poll interval (config "poll_seconds", default 300) has passed since its last poll."""
    if channel.last_polled_at is None:
        return True
    interval = int(channel.config.get("poll_seconds") or DEFAULT_POLL_SECONDS)
    return (now - channel.last_polled_at).total_seconds() >= interval


def save_poll_state(channel: Channel, **state) -> None:
    """Store the named poll-state columns (Channel.POLL_STATE) of the channel, and only those.

    `config` is the admin's: a poll never writes it, so an edit saved while the poll runs stays.
    """
    if unknown := set(state) - set(Channel.POLL_STATE):
        raise TypeError(f"not poll state: {', '.join(sorted(unknown))}")
    Channel.objects.filter(pk=channel.pk).update(**state)
    for name, value in state.items():
        setattr(channel, name, value)


def record_poll(channel: Channel, result: PollResult, **cursors) -> PollResult:
    """Note when the channel was polled, its last error (shown in admin) and any cursors the poll
    moved on (e.g. the feed's ETag), and return the result."""
    save_poll_state(channel, last_polled_at=timezone.now(), last_poll_error=result.error, **cursors)
    if result.error:
        logger.warning("channel %s: %s", channel.slug, result.error)
    return result


def html_to_text(markup: str) -> str:
    """HTML as plain text: tags dropped, entities decoded, white space folded."""
    text = html.unescape(strip_tags(network_text(markup, max_length=200_000)))
    return re.sub(r"[ \t\r\f\v]+", " ", re.sub(r"\n\s*\n+", "\n\n", text)).strip()


def ingest_each_if_need_be(channel: Channel, mentions: list[IncomingMention]) -> IngestResult:
    """Ingest the batch; if the database refuses it, ingest one by one and skip (and log) the ones it refuses.

    A polled source offers the same items again on every poll, so one unstorable item must not
    stop its channel for good.
    """
    try:
        return ingest(channel=channel, mentions=mentions)
    except DatabaseError:
        logger.exception("channel %s: a batch of %d was refused; storing one by one", channel.slug, len(mentions))
    stored = []
    for mention in mentions:
        try:
            stored += ingest(channel=channel, mentions=[mention]).messages
        except DatabaseError:
            logger.exception(
                "channel %s: skipped item %s, which the database refused", channel.slug, mention.external_id
            )
    return IngestResult(stored)
