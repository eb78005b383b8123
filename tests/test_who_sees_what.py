"""Who sees what: every door that takes an id answers 404 for another queue's conversation, message or customer.

The routes are found by walking the URL conf, so a new door with an id is tested (or this test
fails, asking for it to be added) without anyone remembering to.
"""

import re

import pytest
from django.urls import get_resolver

from inbox.models import Message
from profiles.services import merge_customers
from tests.factories import make_conversation, make_customer, make_user
from tests.helpers import walk

pytestmark = pytest.mark.django_db

# Each id a route may take, and how to find the other team's object it names.
SECRET = "Press embargo until Monday"
HTMX = {"HX-Request": "true", "HX-Target": "conversation-pane"}
ID_ROUTES = [
    (name, route)
    for name, route in walk(get_resolver())
    if name and not name.startswith(("admin:", "settings-")) and re.search(r"<int:\w+>", route)
]  # (Settings hold the brand's setup, not a queue's conversations: the role decides, tests/inbox/test_macros.py.)


@pytest.fixture
def other_team():
    """A PR conversation (and its message, customer, and a merge into that customer), and who may see it."""
    conversation = make_conversation("pr", text=SECRET)
    merge = merge_customers(keep=conversation.customer, merge=make_customer("Twin"), by=None)
    ids = {
        "conversation_id": conversation.pk,
        "message_id": Message.objects.get(conversation=conversation).pk,
        "customer_id": conversation.customer_id,
        "merge_id": merge.pk,
    }
    return ids, make_user("petra", role="agent", queues=("pr",))


def _path(route: str, ids: dict) -> str:
    def fill(match):
        name = match.group(1)
        assert name in ids, f"{route} takes <{name}>: add how to find another team's {name} to this test"
        return str(ids[name])

    return "/" + re.sub(r"<int:(\w+)>", fill, route)


def test_the_walk_found_the_doors_that_take_ids():
    names = {name for name, _ in ID_ROUTES}
    assert {"inbox:conversation", "inbox:reply", "inbox:correct-triage", "profiles:customer", "api-message"} <= names
    assert len(ID_ROUTES) >= 15


@pytest.mark.parametrize(("name", "route"), ID_ROUTES, ids=[name for name, _ in ID_ROUTES])
@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_another_queues_id_is_not_found_at_any_door(
    client, agent_in_service_queue, other_team, name, route, method, headers
):
    ids, insider = other_team
    path = _path(route, ids)
    data = {"text": "hello", "other": ids["customer_id"], "status": "resolved", "assignee": "me"}

    client.force_login(agent_in_service_queue)
    response = getattr(client, method)(path, data if method == "post" else None, headers=headers)

    if response.status_code == 405:  # the door does not take this method from anyone
        client.force_login(insider)
        assert getattr(client, method)(path, headers=headers).status_code == 405
        return
    assert response.status_code == 404, f"{method.upper()} {path} answered {response.status_code} to an outsider"
    assert SECRET not in response.content.decode()

    # The same door lets in someone who works the PR queue, so the 404 above is about who asks.
    client.force_login(insider)
    assert getattr(client, method)(path, headers=headers).status_code != 404
