"""RSS and Atom feeds (forums, review sites, blogs), polled per channel with conditional GET.

The channel's `config` holds `feed_url` and, optionally, `poll_seconds` (default 300); the poller
keeps `etag`, `last_modified`, `last_polled_at` and `last_error` there. A 304 means nothing new;
entries seen before are duplicates for ingest, so only new ones are stored.
"""

import logging
import time
from calendar import timegm
from datetime import UTC, datetime
from urllib.parse import urlsplit

import feedparser
import httpx
from django.utils import timezone

from inbox.connectors.polling import PollResult, html_to_text, ingest_each_if_need_be, record_poll
from inbox.mentions import FUTURE_TOLERANCE, IncomingAuthor, IncomingMention, network_text
from inbox.models import Channel

logger = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(15.0, connect=5.0)
MAX_FEED_BYTES = 10 * 1024 * 1024
MAX_ENTRIES = 500
MAX_FETCH_SECONDS = 60
USER_AGENT = "socialcrm-feed-poller/1 (+https://github.com/socialcrm)"


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
    # Claim this poll first, so beat does not queue another while a slow feed is being read.
    channel.config["last_polled_at"] = timezone.now().isoformat()
    Channel.objects.filter(pk=channel.pk).update(config=channel.config)
    owns_client = client is None
    # No redirects: a feed that moves is reported, never followed to wherever it points
    # (an internal address, say).
    client = client or httpx.Client(timeout=TIMEOUT, follow_redirects=False)
    try:
        status, response_headers, content = _fetch(client, url, headers=headers)
    except httpx.HTTPError as problem:
        return record_poll(
            channel, PollResult("error", error=f"Could not fetch the feed: {problem.__class__.__name__}")
        )
    except FeedTooBig as problem:
        return record_poll(channel, PollResult("error", error=str(problem)))
    finally:
        if owns_client:
            client.close()
    if status == 304:
        return record_poll(channel, PollResult("not_modified"))
    if status in {301, 302, 303, 307, 308}:
        moved_to = network_text(response_headers.get("Location", ""), max_length=200)
        return record_poll(
            channel, PollResult("error", error=f"The feed moved ({status}) to {moved_to}; update feed_url.")
        )
    if status != 200:
        return record_poll(channel, PollResult("error", error=f"The feed answered HTTP {status}."))
    feed = feedparser.parse(content)
    if not feed.version and not feed.entries:
        return record_poll(channel, PollResult("error", error="The feed is not valid RSS or Atom."))
    mentions = entries_to_mentions(feed.entries, source=urlsplit(url).hostname or "feed")
    result = ingest_each_if_need_be(channel, mentions[:MAX_ENTRIES]) if mentions else None
    channel.config["etag"] = response_headers.get("ETag", "")
    channel.config["last_modified"] = response_headers.get("Last-Modified", "")
    return record_poll(
        channel,
        PollResult("fetched", result.accepted if result else 0, result.duplicates if result else 0),
    )


class FeedTooBig(Exception):
    """The feed is over the size or time a poll may spend on it."""


def _fetch(client: httpx.Client, url: str, *, headers: dict) -> tuple[int, httpx.Headers, bytes]:
    """GET the feed, reading at most MAX_FEED_BYTES (after decompression) within MAX_FETCH_SECONDS."""
    deadline = time.monotonic() + MAX_FETCH_SECONDS
    with client.stream("GET", url, headers=headers) as response:
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > MAX_FEED_BYTES:
                raise FeedTooBig("The feed is over 10 MB.")
            if time.monotonic() > deadline:
                raise FeedTooBig(f"The feed took over {MAX_FETCH_SECONDS} s to read.")
            chunks.append(chunk)
        return response.status_code, response.headers, b"".join(chunks)


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
                    profile_url=profile if _is_http(profile) and len(profile) <= 500 else "",
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
