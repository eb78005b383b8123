"""simulate_stream posts realistic mentions through the real HTTP API."""

import itertools
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from customers.models import Identity
from demo.stream import MentionStream
from inbox.models import Message
from tests.factories import ensure_migrated_data, make_channel


def test_the_stream_mixes_types_followers_replies_and_duplicates():
    mentions = list(itertools.islice(MentionStream(seed=2), 600))
    ids = [m["external_id"] for m in mentions]

    assert len(set(ids)) < len(ids)  # some deliveries repeat
    assert any("in_reply_to" in m for m in mentions)
    followers = [m["author"]["followers"] for m in mentions]
    assert min(followers) < 100 and max(followers) >= 500_000
    assert any(m["private"] for m in mentions) and not all(m["private"] for m in mentions)


def test_simulate_stream_posts_through_the_api(live_server, transactional_db):
    ensure_migrated_data()
    make_channel("sim-x", network="x", kind="webhook")
    make_channel("sim-reviews", network="reviews", kind="webhook")
    out = StringIO()

    call_command(
        "simulate_stream",
        "--rate",
        "40",
        "--duration",
        "1.5",
        "--batch",
        "5",
        "--seed",
        "7",
        "--channel",
        "sim-x",
        "--channel",
        "sim-reviews",
        "--url",
        live_server.url,
        stdout=out,
    )

    assert "failed 0" in out.getvalue()
    assert Message.objects.count() >= 30
    assert set(Identity.objects.values_list("network", flat=True)) == {"x", "reviews"}


def test_an_unknown_channel_or_bad_rate_is_a_clear_error(db):
    with pytest.raises(CommandError, match="No active channel nope"):
        call_command("simulate_stream", "--channel", "nope", "--duration", "1")
    with pytest.raises(CommandError, match="--rate must be above 0"):
        call_command("simulate_stream", "--rate", "0")
