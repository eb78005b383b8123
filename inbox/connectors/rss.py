"""RSS and Atom feeds (forums, review sites, blogs), polled per channel with conditional GET.

The channel's `config` holds `feed_url` and, optionally, `poll_seconds` (default 300). The poller
keeps its own state in the channel's columns, never in `config`: `feed_etag`, `feed_last_modified`,
`last_polled_at` and `last_poll_error`. A 304 means nothing new;
entries seen before are duplicates for ingest, so only new ones are stored.
"""

import logging
from calendar import timegm
from datetime import UTC, datetime
from urllib.parse import urlsplit

import feedparser
from django.utils import timezone

from inbox.connectors.polling import PollResult, html_to_text, ingest_each_if_need_be, record_poll, save_poll_state
from inbox.mentions import (
    FUTURE_TOLERANCE,
    MAX_PROFILE_URL_LENGTH,
    IncomingAuthor,
    IncomingMention,
    is_http_url,
    network_text,
)
from inbox.models import Channel
from socialcrm.fetch import Fetcher, FetchFailed, FetchRefused, ResponseTooBig, ResponseTooSlow, TooManyRedirects

logger = logging.getLogger(__name__)

MAX_FEED_BYTES = 10 * 1024 * 1024
MAX_ENTRIES = 500
MAX_FETCH_SECONDS = 60
USER_AGENT = "socialcrm-feed-poller/1 (+https://github.com/socialcrm)"


def poll_feed(channel: Channel, *, fetcher: Fetcher | None = None) -> PollResult:
    """Fetch the channel's feed if it changed and ingest its new entries.

    The feed is fetched through `socialcrm.fetch`: an address that is not allowed is refused before
    connecting, and the error recorded then is only "The feed address is not allowed."; a fetch that
    fails records only "Could not fetch the feed.", so the error never tells an open port from a closed one.
    """
    url = channel.config.get("feed_url", "")
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        return record_poll(channel, PollResult("error", error="The channel has no http(s) feed_url in its config."))
    headers = {"User-Agent": USER_AGENT}
    if channel.feed_etag:
        headers["If-None-Match"] = channel.feed_etag
    if channel.feed_last_modified:
        headers["If-Modified-Since"] = channel.feed_last_modified
    # Claim this poll first, so beat does not queue another while a slow feed is being read.
    save_poll_state(channel, last_polled_at=timezone.now())
    try:
        fetched = (fetcher or Fetcher()).get(
            url, headers=headers, max_bytes=MAX_FEED_BYTES, max_seconds=MAX_FETCH_SECONDS
        )
    except (FetchRefused, FetchFailed) as problem:
        return record_poll(channel, PollResult("error", error=_poll_error(problem)))
    if fetched.status == 304:
        return record_poll(channel, PollResult("not_modified"))
    if fetched.status != 200:
        return record_poll(channel, PollResult("error", error=f"The feed answered HTTP {fetched.status}."))
    feed = feedparser.parse(fetched.content)
    if not feed.version and not feed.entries:
        return record_poll(channel, PollResult("error", error="The feed is not valid RSS or Atom."))
    mentions = entries_to_mentions(feed.entries, source=_host(url) or "feed")
    result = ingest_each_if_need_be(channel, mentions[:MAX_ENTRIES]) if mentions else None
    return record_poll(
        channel,
        PollResult("fetched", result.accepted if result else 0, result.duplicates if result else 0),
        feed_etag=fetched.headers.get("ETag", ""),
        feed_last_modified=fetched.headers.get("Last-Modified", ""),
    )


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _poll_error(problem: Exception) -> str:
    """What an admin reads in `last_poll_error`: the kind of failure, never the connection's own error."""
    if isinstance(problem, FetchRefused):
        return "The feed address is not allowed."
    if isinstance(problem, ResponseTooBig):
        return "The feed is over 10 MB."
    if isinstance(problem, ResponseTooSlow):
        return f"The feed took over {MAX_FETCH_SECONDS} s to read."
    if isinstance(problem, TooManyRedirects):
        return "The feed redirected too many times."
    return "Could not fetch the feed."


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
                    profile_url=profile if is_http_url(profile) and len(profile) <= MAX_PROFILE_URL_LENGTH else "",
                ),
                url=link[:1000] if is_http_url(link) else "",
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


def _raw(entry) -> dict:
    """The entry as JSON-safe data, for audit."""
    keys = ("id", "link", "title", "author", "published", "updated", "summary")
    present = entry.keys()
    return {key: network_text(str(entry[key]), max_length=20_000) for key in keys if key in present}
