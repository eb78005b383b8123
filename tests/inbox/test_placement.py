"""The server, not the browser, says where a live-changed conversation goes in the list a page shows.

A page that hears a row event asks inbox:placement with its list (queue, tab, filters), the ids it
heard about and how far down it has loaded; the list's own query answers: rows to draw, ids further
down, ids off this list. The browser end of this is tests/browser/test_live_inbox.py.
"""

import re
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from inbox.models import Conversation, Message
from inbox.selectors import conversation_list
from inbox.services.triage import triage_messages
from tests.factories import make_conversation, make_customer, make_user
from triage.models import Queue

pytestmark = pytest.mark.django_db


def placed(client, ids, **params) -> dict[str, set[int]]:
    response = client.get(
        reverse("inbox:placement"),
        {"queue": "service", "ids": ",".join(map(str, ids)), **params},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200, response.content
    html = response.content.decode()
    return {
        "shown": {int(pk) for pk in re.findall(r'<li id="conversation-(\d+)"', html)},
        "below": {int(pk) for pk in re.findall(r'data-below="(\d+)"', html)},
        "gone": {int(pk) for pk in re.findall(r'data-gone="(\d+)"', html)},
    }


def test_the_lists_own_query_decides_what_stays_and_what_leaves(agent_client):
    waiting = make_conversation("service", text="Still waiting")
    resolved = make_conversation("service", status="resolved")
    elsewhere = make_conversation("pr", text="A journalist asks")  # a queue the agent is not in
    missing = 999_999

    assert placed(agent_client, [waiting.pk, resolved.pk, elsewhere.pk, missing]) == {
        "shown": {waiting.pk},
        "below": set(),
        "gone": {resolved.pk, elsewhere.pk, missing},  # another queue's reads as one that does not exist
    }
    assert placed(agent_client, [waiting.pk, resolved.pk], status="resolved") == {
        "shown": {resolved.pk},
        "below": set(),
        "gone": {waiting.pk},
    }


def test_tabs_and_filters_are_the_lists_own(agent_client, agent_in_service_queue):
    mine = make_conversation("service", assignee=agent_in_service_queue, status="open", sentiment="negative")
    theirs = make_conversation("service", assignee=make_user("tom", role="agent", queues=("service",)))

    assert placed(agent_client, [mine.pk, theirs.pk], status="mine")["shown"] == {mine.pk}
    assert placed(agent_client, [mine.pk, theirs.pk], sentiment="negative")["shown"] == {mine.pk}
    assert placed(agent_client, [mine.pk, theirs.pk], assignee="none")["gone"] == {mine.pk, theirs.pk}


def test_a_conversation_further_down_than_the_page_has_loaded_is_below(agent_client, agent_in_service_queue):
    for n in range(31):
        make_conversation("service", text=f"Urgent {n}", priority=3, status="open")
    low = make_conversation("service", text="No hurry", priority=0)
    urgent = Conversation.objects.filter(priority=3).order_by("pk").first()
    _, cursor = conversation_list(agent_in_service_queue, queue=Queue.objects.get(slug="service"))

    assert placed(agent_client, [low.pk, urgent.pk], until=cursor) == {
        "shown": {urgent.pk},
        "below": {low.pk},
        "gone": set(),
    }
    assert placed(agent_client, [low.pk])["shown"] == {low.pk}  # a page that shows the list to its end


def test_the_rows_it_draws_escape_what_the_customer_wrote(agent_client):
    hostile = make_conversation("service", text="<img src=x onerror=alert(1)>", customer=make_customer("<b>Eve</b>"))
    html = agent_client.get(reverse("inbox:placement"), {"queue": "service", "ids": hostile.pk}).content.decode()

    assert "<img src=x" not in html and "<b>Eve" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&lt;b&gt;Eve&lt;/b&gt;" in html


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"ids": ""}, 400),
        ({"ids": "1,x"}, 400),
        ({"ids": "-1"}, 400),
        ({"ids": ",".join(["1"] * 101)}, 400),
        ({"ids": "1", "status": "everything"}, 400),
        ({"ids": "1", "sentiment": "furious"}, 400),
        ({"ids": "1", "until": "not-a-cursor"}, 400),
        ({"ids": "1", "queue": ""}, 400),
        ({"ids": "1", "queue": "pr"}, 404),  # not one of the agent's queues
        ({"ids": "1", "queue": "nowhere"}, 404),
    ],
)
def test_bad_requests_are_refused_plainly(agent_client, params, status):
    response = agent_client.get(reverse("inbox:placement"), {"queue": "service", **params})
    assert response.status_code == status


def test_a_placement_costs_the_same_queries_for_one_id_or_many(agent_client):
    few = [make_conversation("service", text="One").pk]
    many = [make_conversation("service", text=f"Many {n}", customer=make_customer(f"C{n}")).pk for n in range(20)]
    agent_client.get(reverse("inbox:placement"), {"queue": "service", "ids": few[0]})  # the session warmed
    with CaptureQueriesContext(connection) as one:
        placed(agent_client, few, until="3_1_1")
    with CaptureQueriesContext(connection) as twenty:
        placed(agent_client, many, until="3_1_1")
    assert len(twenty.captured_queries) == len(one.captured_queries)


def test_a_mention_whose_triage_fails_is_still_shown_live(capture_pushes):
    conversation = make_conversation("service", text="Help, no signal")
    message = conversation.messages.get()
    Message.objects.filter(pk=message.pk).update(triage_state=Message.TriageState.QUEUED)

    failing = mock.patch("inbox.services.triage.decide", side_effect=RuntimeError("model"))
    with capture_pushes() as pushes, failing, pytest.raises(RuntimeError):
        triage_messages(message_ids=[message.pk])

    assert ("live.all", "row") in pushes.of(conversation.pk)
    assert Message.objects.get(pk=message.pk).triage_state == Message.TriageState.QUEUED  # retried later
