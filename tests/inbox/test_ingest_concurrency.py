"""Concurrent deliveries of the same mention: stored once, one customer, no error (PostgreSQL)."""

import pytest
from django.db import connection

from customers.models import Customer, Identity
from inbox.models import Message
from inbox.services.ingest import ingest
from tests.factories import ensure_migrated_data, make_channel
from tests.helpers import mention, run_concurrently

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks and concurrent writers need PostgreSQL (CI runs it)"
)


def test_the_same_new_mention_delivered_at_once_on_two_connections_is_stored_once(transactional_db):
    ensure_migrated_data()
    channel = make_channel("x-main")
    batch = [
        mention(f"t{n}", author=f"new-author-{n}", author_fields={"email": f"p{n}@example.com"}) for n in range(50)
    ]

    errors = run_concurrently(*[lambda: ingest(channel=channel, mentions=batch)] * 4)

    assert errors == []
    assert Message.objects.count() == 50
    assert Identity.objects.count() == 50
    assert Customer.objects.count() == 50


def test_the_same_new_author_on_two_channels_at_once_becomes_one_customer(transactional_db):
    ensure_migrated_data()
    first, second = make_channel("x-main"), make_channel("x-support")

    errors = run_concurrently(
        lambda: ingest(channel=first, mentions=[mention("a1", author="shared")]),
        lambda: ingest(channel=second, mentions=[mention("b1", author="shared")]),
    )

    assert errors == []
    assert Identity.objects.count() == 1
    assert Customer.objects.count() == 1
    assert Message.objects.count() == 2
