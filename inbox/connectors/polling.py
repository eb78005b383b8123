"""What the polling connectors (feeds, mailboxes) share: their result, their bookkeeping, HTML to text."""

import html
import logging
import re
from dataclasses import dataclass

from django.utils import timezone
from django.utils.html import strip_tags

from inbox.mentions import network_text
from inbox.models import Channel

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PollResult:
    status: str  # "fetched", "not_modified" or "error"
    accepted: int = 0
    duplicates: int = 0
    error: str = ""


def record_poll(channel: Channel, result: PollResult) -> PollResult:
    """Note when the channel was polled and its last error (shown in admin), and return the result."""
    channel.config["last_polled_at"] = timezone.now().isoformat()
    channel.config["last_error"] = result.error
    Channel.objects.filter(pk=channel.pk).update(config=channel.config)
    if result.error:
        logger.warning("channel %s: %s", channel.slug, result.error)
    return result


def html_to_text(markup: str) -> str:
    """HTML as plain text: tags dropped, entities decoded, white space folded."""
    text = html.unescape(strip_tags(network_text(markup, max_length=200_000)))
    return re.sub(r"[ \t\r\f\v]+", " ", re.sub(r"\n\s*\n+", "\n\n", text)).strip()
