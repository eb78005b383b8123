"""A polled channel in admin: the poller's state is shown read-only, and saving the form never undoes a poll."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from inbox.connectors.polling import save_poll_state
from inbox.models import Channel
from tests.factories import channel_admin_form, make_channel

pytestmark = pytest.mark.django_db
FEED_URL = "https://community.kestrel.example/latest.rss"


@pytest.fixture
def forum():
    channel = make_channel("community", network="forum", kind=Channel.Kind.RSS)
    channel.config = {"feed_url": FEED_URL}
    channel.save()
    save_poll_state(
        channel,
        last_polled_at=timezone.now() - timedelta(minutes=3),
        last_poll_error="The feed answered <b>HTTP 500</b>.",
        feed_etag='"v1"',
    )
    return channel


def test_the_last_poll_and_its_error_are_shown_read_only(admin_client, forum):
    html = admin_client.get(f"/admin/inbox/channel/{forum.pk}/change/").content.decode()

    assert "Polling" in html and "Last poll error" in html
    assert "The feed answered &lt;b&gt;HTTP 500&lt;/b&gt;." in html and "<b>HTTP 500</b>" not in html
    assert "Feed etag" in html and "Mailbox last uid" not in html  # a feed has no UIDs
    assert 'name="last_poll_error"' not in html and 'name="feed_etag"' not in html
    assert 'name="last_polled_at' not in html


def test_a_channel_that_is_not_polled_shows_no_poll_state(admin_client):
    hook = make_channel("web-hook", network="web", kind=Channel.Kind.WEBHOOK)

    html = admin_client.get(f"/admin/inbox/channel/{hook.pk}/change/").content.decode()

    assert "Last poll error" not in html and "Feed etag" not in html


def test_saving_the_form_while_a_poll_records_keeps_both_the_edit_and_the_poll(admin_client, forum, monkeypatch):
    polled_at = timezone.now()

    def a_poll_records_while_the_form_is_saved(url):
        save_poll_state(
            Channel.objects.get(pk=forum.pk), last_polled_at=polled_at, last_poll_error="", feed_etag='"v2"'
        )

    monkeypatch.setattr("inbox.admin.check_url", a_poll_records_while_the_form_is_saved)
    edited = {"feed_url": FEED_URL, "poll_seconds": 900}

    response = admin_client.post(
        f"/admin/inbox/channel/{forum.pk}/change/", channel_admin_form(forum, config=json.dumps(edited), name="Forum")
    )

    assert response.status_code == 302
    forum.refresh_from_db()
    assert (forum.name, forum.config) == ("Forum", edited)
    assert (forum.last_polled_at, forum.last_poll_error, forum.feed_etag) == (polled_at, "", '"v2"')
