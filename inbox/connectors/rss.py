"""RSS and Atom feeds (forums, review sites, blogs), polled per channel with conditional GET.

The channel's `config` holds `feed_url` and, optionally, `poll_seconds` (default 300); the poller
keeps `etag`, `last_modified`, `last_polled_at` and `last_error` there. A 304 means nothing new;
entries seen before are duplicates for ingest, so only new ones are stored.
"""

import logging
from calendar import timegm
from datetime import UTC, datetime
from urllib.parse import urlsplit

import feedparser
import httpx
from django.utils import timezone

from inbox.connectors.polling import PollResult, html_to_text, record_poll
from inbox.mentions import FUTURE_TOLERANCE, IncomingAuthor, IncomingMention, network_text
from inbox.models import Channel
from inbox.services import ingest

logger = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(15.0, connect=5.0)
MAX_FEED_BYTES = 10 * 1024 * 1024
DEFAULT_POLL_SECONDS = 300
USER_AGENT = "socialcrm-feed-poller/1 (+https://github.com/socialcrm)"


def is_due(channel: Channel, *, now: datetime) -> bool:
    last = channel.config.get("last_polled_at")
    if not last:
        return True
    interval = int(channel.config.get("poll_seconds") or DEFAULT_POLL_SECONDS)
    return (now - datetime.fromisoformat(last)).total_seconds() >= interval


def poll_feed(channel: Channel, *, client: httpx.Client | None = None) -> PollResult:
    """Fetch the channel's feed if it changed and ingest its new entries."""
    url = channel.config.get("feed_url", "")
    if urlsplit(url).scheme not in {"http", "https"}:
        return record_poll(channel, PollResult("error", error="The channel has no http(s) feed_url in its config."))
    headers = {"User-Agent": USER_AGENT}
    if channel.config.get("etag"):
        headers["If-None-Match"] = channel.config["etag"]
    if channel.config.get("last_modified"):
        headers["If-Modified-Since"] = channel.config["last_modified"]
    owns_client = client is None
    client = client or httpx.Client(timeout=TIMEOUT, follow_redirects=True, max_redirects=5)
    try:
        response = client.get(url, headers=headers)
    except httpx.HTTPError as problem:
        return record_poll(
            channel, PollResult("error", error=f"Could not fetch the feed: {problem.__class__.__name__}")
        )
    finally:
        if owns_client:
            client.close()
    if response.status_code == 304:
        return record_poll(channel, PollResult("not_modified"))
    if response.status_code != 200:
        return record_poll(channel, PollResult("error", error=f"The feed answered HTTP {response.status_code}."))
    if len(response.content) > MAX_FEED_BYTES:
        return record_poll(channel, PollResult("error", error="The feed is over 10 MB."))
    feed = feedparser.parse(response.content)
    if not feed.version and not feed.entries:
        return record_poll(channel, PollResult("error", error="The feed is not valid RSS or Atom."))
    mentions = entries_to_mentions(feed.entries, source=urlsplit(url).hostname or "feed")
    result = ingest(channel=channel, mentions=mentions) if mentions else None
    channel.config["etag"] = response.headers.get("ETag", "")
    channel.config["last_modified"] = response.headers.get("Last-Modified", "")
    return record_poll(
        channel,
        PollResult("fetched", result.accepted if result else 0, result.duplicates if result else 0),
    )


def entries_to_mentions(entries: list, *, source: str) -> list[IncomingMention]:
    """Feed entries as mentions: title and body as plain text, the author named per source site."""
    mentions = []
    now = timezone.now()
    for entry in entries:
        external_id = network_text(entry.get("id") or entry.get("link") or "", max_length=255)
        if not external_id:
            logger.warning("feed %s: skipped an entry with neither id nor link", source)
            continue
        title = html_to_text(entry.get("title", ""))
        body = html_to_text(
            entry.get("content", [{}])[0].get("value", "") if entry.get("content") else entry.get("summary", "")
        )
        text = "\n\n".join(part for part in (title, body) if part) or "(empty entry)"
        author_name = network_text(entry.get("author", ""), max_length=255).strip() or "Anonymous"
        profile = (entry.get("author_detail") or {}).get("href", "")
        link = entry.get("link", "")
        mentions.append(
            IncomingMention(
                external_id=external_id,
                text=network_text(text),
                author=IncomingAuthor(
                    external_id=f"{source}/{author_name}"[:255],
                    name=author_name,
                    profile_url=profile if _is_http(profile) else "",
                ),
                url=link[:1000] if _is_http(link) else "",
                posted_at=_entry_time(entry, now=now),
                raw=_raw(entry),
            )
        )
    return mentions


def _entry_time(entry, *, now: datetime) -> datetime | None:
    # Only keys the entry really has: feedparser maps a missing "updated" to "published", with a warning.
    present = entry.keys()
    parsed = next((entry[key] for key in ("published_parsed", "updated_parsed") if key in present), None)
    if not parsed:
        return None
    moment = datetime.fromtimestamp(timegm(parsed), tz=UTC)
    return min(moment, now) if moment > now + FUTURE_TOLERANCE else moment


def _is_http(url: str) -> bool:
    return isinstance(url, str) and urlsplit(url).scheme in {"http", "https"}


def _raw(entry) -> dict:
    """The entry as JSON-safe data, for audit."""
    keys = ("id", "link", "title", "author", "published", "updated", "summary")
    present = entry.keys()
    return {key: network_text(str(entry[key]), max_length=20_000) for key in keys if key in present}
