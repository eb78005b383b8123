"""Agents pressing "get next" at the same moment never get the same conversation (PostgreSQL)."""

import pytest
from django.db import connection

from inbox.models import Conversation
from inbox.services.conversations import get_next
from tests.factories import ensure_migrated_data, make_conversation, make_user
from tests.helpers import run_concurrently

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks and concurrent writers need PostgreSQL (CI runs it)"
)


def test_eight_agents_pressing_get_next_at_once_each_get_a_different_conversation(transactional_db):
    ensure_migrated_data()
    agents = [make_user(f"agent{n}", role="agent", queues=("service",)) for n in range(8)]
    for n in range(5):
        make_conversation("service", text=f"waiting {n}", priority=n % 4)
    claimed = {}

    def press(agent):
        return lambda: claimed.__setitem__(agent.username, get_next(agent=agent))

    errors = run_concurrently(*[press(agent) for agent in agents])

    assert errors == []
    got = [c.pk for c in claimed.values() if c is not None]
    assert len(got) == len(set(got)) == 5  # five conversations, five agents, no one twice
    assert sum(c is None for c in claimed.values()) == 3
    assert Conversation.objects.filter(assignee__isnull=True).count() == 0
