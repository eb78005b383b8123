"""No N+1: the pages agents live in cost the same number of queries with 3 rows as with 30."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import CustomerRecord, Identity
from inbox.models import Label, Message, Note
from inbox.services.conversations import add_note
from inbox.services.triage import triage_messages
from tests.factories import make_channel, make_conversation, make_customer

pytestmark = pytest.mark.django_db


def _queries(client, path: str, headers=None) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path, headers=headers or {}).status_code == 200
    return len(captured)


def _grow_list(n: int, customer=None):
    label = Label.objects.get_or_create(name="refund")[0]
    for i in range(n):
        conversation = make_conversation("service", text=f"complaint {i}: it broke", customer=customer)
        conversation.labels.add(label)
    triage_messages(message_ids=[m.pk for m in Message.objects.filter(triage__isnull=True)])


def _grow_thread(conversation, agent, n: int):
    for i in range(n):
        Message.objects.create(
            channel=conversation.channel,
            conversation=conversation,
            external_id=f"more-{conversation.pk}-{Message.objects.count()}",
            author=Identity.objects.filter(customer=conversation.customer).first(),
            text=f"and another thing {i}",
            posted_at=conversation.created_at,
        )
        add_note(conversation=conversation, author=agent, text=f"@{agent.username} look {i}")
    triage_messages(message_ids=[m.pk for m in Message.objects.filter(triage__isnull=True)])


@pytest.mark.parametrize("headers", [{}, {"HX-Request": "true", "HX-Target": "conversation-list"}])
def test_the_inbox_list(agent_client, headers):
    _grow_list(3)
    few = _queries(agent_client, "/inbox/?queue=service", headers)
    _grow_list(27)
    assert _queries(agent_client, "/inbox/?queue=service", headers) == few


@pytest.mark.parametrize("headers", [{}, {"HX-Request": "true", "HX-Target": "conversation-pane"}])
def test_a_conversation(agent_client, agent_in_service_queue, headers):
    customer = make_customer("Dana")
    conversation = make_conversation("service", customer=customer)
    _grow_list(2, customer=customer)  # her other conversations, in the sidebar
    _grow_thread(conversation, agent_in_service_queue, 2)
    few = _queries(agent_client, f"/inbox/conversations/{conversation.pk}/", headers)
    _grow_list(10, customer=customer)
    _grow_thread(conversation, agent_in_service_queue, 20)
    assert Note.objects.count() == 22
    assert _queries(agent_client, f"/inbox/conversations/{conversation.pk}/", headers) == few


def test_a_customer_page(agent_client):
    customer = make_customer("Dana")
    _grow_list(3, customer=customer)
    email = make_channel("mail", network="email", kind="email")
    make_conversation("service", customer=customer, channel=email)
    few = _queries(agent_client, f"/customers/{customer.pk}/")
    _grow_list(25, customer=customer)
    for i in range(20):
        CustomerRecord.objects.create(
            customer=customer, kind="order", source="shop", title=f"Order {i}", occurred_at=customer.created_at
        )
    assert _queries(agent_client, f"/customers/{customer.pk}/") == few


def test_the_likely_duplicates_list(client, manager):
    def twins(start: int, count: int):
        for n in range(start, start + count):
            for network, handle in (("x", f"@twin_{n}"), ("instagram", f"twin{n}x")):
                Identity.objects.create(
                    customer=make_customer(f"Twin Number{n}"),
                    network=network,
                    external_id=f"{network}-{n}",
                    handle=handle,
                )

    client.force_login(manager)
    twins(0, 3)
    few = _queries(client, "/customers/duplicates")
    twins(3, 12)
    page = client.get("/customers/duplicates").content.decode()
    assert page.count(">Review merge<") == 15
    assert _queries(client, "/customers/duplicates") == few


def test_the_counts_refresh_reads_no_list(agent_client):
    _grow_list(3)
    headers = {"HX-Request": "true", "HX-Target": "queue-nav"}
    with CaptureQueriesContext(connection) as captured:
        page = agent_client.get("/inbox/?queue=service", headers=headers).content.decode()
    assert page.lstrip().startswith('<nav id="queue-nav"') and 'aria-current="page"' in page
    assert not any("inbox_message" in query["sql"] for query in captured)  # the rows' influence subquery


def test_a_live_publish_costs_the_same_queries_for_3_conversations_as_for_30():
    from inbox import live
    from inbox.models import Conversation
    from tests.factories import make_user

    def publish_all() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert live.publish(list(Conversation.objects.values_list("pk", flat=True))) > 0
        return len(captured)

    agent = make_user("sam", queues=("service",))
    _grow_list(3)
    Conversation.objects.update(assignee=agent)
    few = publish_all()
    _grow_list(27)
    Conversation.objects.update(assignee=agent)
    assert publish_all() == few
