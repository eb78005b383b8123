"""Feeds are polled with conditional GET and only new entries are stored (recorded responses).

What a feed URL may reach is tested in tests/security/test_ssrf.py.
"""

from datetime import timedelta
from ipaddress import ip_address

import httpx
import pytest
from django.utils import timezone

from inbox.connectors.rss import poll_feed
from inbox.models import Channel, Conversation, Message
from inbox.tasks import poll_due_channels
from socialcrm.fetch import Fetcher
from tests import helpers
from tests.factories import make_channel

FIXTURES = helpers.FIXTURES / "rss"
# Every feed host "resolves" to this public address; the recorded handler answers, nothing connects.
FEED_HOST_ADDRESS = ip_address("93.184.215.14")


def recorded(handler) -> Fetcher:
    """The real fetcher and its checks, with a fixed DNS answer and the handler in place of the network."""
    return Fetcher(resolve=lambda host, port: [FEED_HOST_ADDRESS], make_transport=lambda: httpx.MockTransport(handler))


class RecordedFeed:
    """A feed server that answers with a recorded file, honours ETag, and remembers the requests."""

    def __init__(self, name: str, *, etag: str = '"v1"', status: int = 200):
        self.body = (FIXTURES / name).read_bytes()
        self.etag, self.status = etag, status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status != 200:
            return httpx.Response(self.status)
        if request.headers.get("If-None-Match") == self.etag:
            return httpx.Response(304)
        return httpx.Response(200, content=self.body, headers={"ETag": self.etag, "Content-Type": "application/xml"})

    def fetcher(self) -> Fetcher:
        return recorded(self)


@pytest.fixture
def forum(db):
    channel = make_channel("community", network="forum", kind="rss")
    channel.config = {"feed_url": "https://community.kestrel.example/latest.rss"}
    channel.save()
    return channel


def test_new_entries_are_stored_as_plain_text_mentions(forum):
    server = RecordedFeed("forum.xml")

    result = poll_feed(forum, fetcher=server.fetcher())

    assert (result.status, result.accepted) == ("fetched", 2)
    message = Message.objects.get(external_id="community.kestrel.example-topic-8812")
    assert message.text.startswith("5G keeps dropping to 4G in Leeds city centre\n\nSince the update")
    assert "<b>" not in message.text and "& is there a fix?" in message.text
    assert message.author.display_name == "leeds_lad"
    assert message.author.external_id == "community.kestrel.example/leeds_lad"
    assert message.url.endswith("/8812")
    assert message.raw_payload["title"].startswith("5G keeps")
    assert message.posted_at.isoformat() == "2026-11-23T08:55:41+00:00"
    assert Conversation.objects.count() == 2


def test_an_unchanged_feed_is_not_fetched_again_and_nothing_is_stored_twice(forum):
    server = RecordedFeed("forum.xml")
    poll_feed(forum, fetcher=server.fetcher())
    forum.refresh_from_db()

    second = poll_feed(forum, fetcher=server.fetcher())

    assert second.status == "not_modified"
    assert server.requests[1].headers["If-None-Match"] == '"v1"'
    assert Message.objects.count() == 2
    forum.refresh_from_db()
    assert forum.feed_etag == '"v1"' and forum.last_polled_at is not None and forum.last_poll_error == ""
    assert forum.config == {"feed_url": "https://community.kestrel.example/latest.rss"}  # only what the admin set


def test_a_feed_that_sends_last_modified_is_asked_if_modified_since(forum):
    stamp = "Mon, 23 Nov 2026 09:00:00 GMT"
    body = (FIXTURES / "forum.xml").read_bytes()
    requests = []

    def dated(request):
        requests.append(request)
        if request.headers.get("If-Modified-Since") == stamp:
            return httpx.Response(304)
        return httpx.Response(200, content=body, headers={"Last-Modified": stamp})

    assert poll_feed(forum, fetcher=recorded(dated)).accepted == 2
    forum.refresh_from_db()

    assert poll_feed(forum, fetcher=recorded(dated)).status == "not_modified"
    assert "If-None-Match" not in requests[1].headers
    assert (forum.feed_last_modified, forum.feed_etag) == (stamp, "")


def test_an_admin_edit_saved_while_the_feed_is_read_is_kept(forum):
    server = RecordedFeed("forum.xml")
    edited = {"feed_url": "https://community.kestrel.example/latest.rss", "poll_seconds": 900}

    def admin_saves_during_the_fetch(request):
        Channel.objects.filter(pk=forum.pk).update(config=edited)
        return server(request)

    result = poll_feed(forum, fetcher=recorded(admin_saves_during_the_fetch))

    forum.refresh_from_db()
    assert result.accepted == 2
    assert forum.config == edited
    assert forum.feed_etag == '"v1"' and forum.last_polled_at is not None


def test_a_changed_feed_with_old_entries_stores_only_the_new_ones(forum):
    poll_feed(forum, fetcher=RecordedFeed("forum.xml", etag='"v1"').fetcher())
    forum.refresh_from_db()

    result = poll_feed(forum, fetcher=RecordedFeed("forum.xml", etag='"v2"').fetcher())

    assert (result.accepted, result.duplicates) == (0, 2)
    assert Message.objects.count() == 2


def test_atom_reviews_with_a_hostile_author_link(db):
    reviews = make_channel("reviews", network="reviews", kind="rss")
    reviews.config = {"feed_url": "https://reviews.example/kestrel-mobile.atom"}
    reviews.save()

    poll_feed(reviews, fetcher=RecordedFeed("reviews.atom").fetcher())

    charged = Message.objects.get(external_id="https://reviews.example/reviews/6741ab")
    assert (
        charged.text
        == "1 star: Charged twice and nobody answers\n\nTwo payments for November. Three calls, no refund yet."
    )
    assert charged.author.profile_url == "https://reviews.example/users/maria-g"
    assert Message.objects.get(external_id="https://reviews.example/reviews/6740ff").author.profile_url == ""


@pytest.mark.parametrize("status", [404, 500])
def test_a_failing_feed_records_the_error_and_stores_nothing(forum, status):
    result = poll_feed(forum, fetcher=RecordedFeed("forum.xml", status=status).fetcher())

    forum.refresh_from_db()
    assert result.status == "error"
    assert f"HTTP {status}" in forum.last_poll_error
    assert not Message.objects.exists()


def test_a_feed_that_is_not_a_feed_records_an_error(forum):
    def not_a_feed(request):
        return httpx.Response(200, content=b"<html><body>Maintenance</body></html>")

    result = poll_feed(forum, fetcher=recorded(not_a_feed))

    assert result.status == "error" and "not valid RSS" in result.error


def test_an_unreachable_feed_records_an_error(forum):
    def refuse(request):
        raise httpx.ConnectError("connection refused", request=request)

    result = poll_feed(forum, fetcher=recorded(refuse))

    assert result.status == "error" and result.error == "Could not fetch the feed."


def test_only_configured_feeds_that_are_due_get_polled(forum, monkeypatch):
    make_channel("unconfigured", network="forum", kind="rss")
    polled = []
    monkeypatch.setattr("inbox.tasks.poll_feed.delay", polled.append)

    assert poll_due_channels() == 1
    assert polled == [forum.pk]

    Channel.objects.filter(pk=forum.pk).update(last_polled_at=timezone.now() - timedelta(minutes=4))
    assert poll_due_channels() == 0  # polled 4 minutes ago; the default interval is 5
    Channel.objects.filter(pk=forum.pk).update(last_polled_at=timezone.now() - timedelta(minutes=6))
    assert poll_due_channels() == 1
    Channel.objects.filter(pk=forum.pk).update(config=forum.config | {"poll_seconds": 900})
    assert poll_due_channels() == 0  # the admin's interval: not due for 15 minutes


def test_a_moved_feed_is_followed_to_its_new_address(forum):
    feed = RecordedFeed("forum.xml")
    requests = []

    def moved(request):
        requests.append(request)
        if request.url.path == "/latest.rss":
            return httpx.Response(301, headers={"Location": "https://feeds.kestrel.example/community.rss"})
        return feed(request)

    result = poll_feed(forum, fetcher=recorded(moved))

    assert (result.status, result.accepted) == ("fetched", 2)
    assert [request.headers["Host"] for request in requests] == ["community.kestrel.example", "feeds.kestrel.example"]


def test_the_feed_is_fetched_from_the_address_that_was_checked_under_its_own_name(forum):
    server = RecordedFeed("forum.xml")

    poll_feed(forum, fetcher=server.fetcher())

    (request,) = server.requests
    assert request.url.host == str(FEED_HOST_ADDRESS)
    assert request.headers["Host"] == "community.kestrel.example"
    assert request.extensions["sni_hostname"] == "community.kestrel.example"


def test_a_feed_over_10_mb_is_refused_without_storing_anything(forum, monkeypatch):
    monkeypatch.setattr("inbox.connectors.rss.MAX_FEED_BYTES", 1000)

    result = poll_feed(forum, fetcher=RecordedFeed("forum.xml").fetcher())

    assert result.status == "error" and "over 10 MB" in result.error
    assert not Message.objects.exists()
