"""The first screen: an agent's three-pane inbox, showing only what they may see."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from inbox.models import Conversation
from tests.factories import make_conversation, make_customer, make_user

INBOX = reverse("inbox:home")


def conversation_url(conversation):
    return reverse("inbox:conversation", args=[conversation.pk])


@pytest.mark.django_db
def test_the_agent_sees_their_queues_with_counts_and_the_queue_list(agent_client):
    complaint = make_conversation("service", text="Charged twice this month")
    make_conversation("service", text="Where is my order?", status=Conversation.Status.OPEN)
    make_conversation("pr", text="Journalist asking about outage")

    page = agent_client.get(INBOX).content.decode()

    assert 'id="queue-nav"' in page and 'id="conversation-list"' in page and 'id="conversation-pane"' in page
    assert "Service" in page and ">PR<" not in page
    assert "Charged twice this month" in page and "Where is my order?" in page
    assert "Journalist asking about outage" not in page
    assert f'id="conversation-{complaint.pk}"' in page
    assert "Pick a conversation" in page


@pytest.mark.django_db
def test_the_queue_counts_say_how_many_are_new_and_open(agent_client):
    make_conversation("service")
    make_conversation("service")
    make_conversation("service", status=Conversation.Status.OPEN)
    make_conversation("service", status=Conversation.Status.RESOLVED)

    response = agent_client.get(INBOX)

    (summary,) = response.context["summaries"]
    assert (summary.queue.slug, summary.new, summary.open, summary.mine) == ("service", 2, 1, 0)


@pytest.mark.django_db
def test_the_list_puts_the_most_urgent_first(agent_client):
    low = make_conversation("service", text="low one", priority=0)
    urgent = make_conversation("service", text="urgent one", priority=3)

    rows = agent_client.get(INBOX).context["conversations"]

    assert [row.pk for row in rows] == [urgent.pk, low.pk]


@pytest.mark.django_db
def test_opening_a_conversation_shows_the_thread_and_the_customer(agent_client):
    customer = make_customer("Fox Mulder", email="fox@example.com", tier="vip")
    conversation = make_conversation("service", text="The truth is out there", customer=customer)

    page = agent_client.get(conversation_url(conversation)).content.decode()

    assert "The truth is out there" in page
    assert "Fox Mulder" in page and "fox@example.com" in page and "VIP" in page
    assert "@customer" in page  # the identity handle in the sidebar


@pytest.mark.django_db
def test_htmx_gets_only_the_fragment(agent_client):
    conversation = make_conversation("service")

    pane = agent_client.get(
        conversation_url(conversation), headers={"HX-Request": "true", "HX-Target": "conversation-pane"}
    )
    listing = agent_client.get(
        INBOX + "?queue=service&status=active", headers={"HX-Request": "true", "HX-Target": "conversation-list"}
    )

    assert pane.content.decode().lstrip().startswith('<div id="conversation-pane"')
    assert "<html" not in pane.content.decode()
    assert listing.content.decode().lstrip().startswith('<section id="conversation-list"')
    assert 'hx-swap-oob="true"' in listing.content.decode()  # the queue nav follows


@pytest.mark.django_db
def test_a_tab_or_sort_within_the_queue_shown_redraws_the_list_without_counting_the_queues(agent_client):
    make_conversation("service", text="Parcel arrived crushed")
    shown = {"HX-Request": "true", "HX-Target": "conversation-list"}

    def listing(path: str, current_url: str):
        with CaptureQueriesContext(connection) as captured:
            page = agent_client.get(path, headers={**shown, "HX-Current-URL": current_url}).content.decode()
        return page, " ".join(query["sql"] for query in captured)

    # Sorting the service list the browser shows: the rows, not the nav and its counts (live events keep those).
    page, sql = listing(INBOX + "?queue=service&sort=breach", "http://testserver/inbox/?queue=service")
    assert "Parcel arrived crushed" in page and 'hx-swap-oob="true"' not in page
    assert "COUNT(" not in sql.upper()
    # Moving to another queue: the nav follows, with its highlight and fresh counts.
    page, sql = listing(INBOX + "?queue=service", "http://testserver/inbox/?queue=sales")
    assert 'hx-swap-oob="true"' in page and "COUNT(" in sql.upper()


@pytest.mark.django_db
@pytest.mark.parametrize("headers", [{}, {"HX-Request": "true", "HX-Target": "conversation-pane"}])
def test_another_queues_conversation_is_not_found(agent_client, headers):
    secret = make_conversation("pr", text="Press embargo until Monday")

    response = agent_client.get(conversation_url(secret), headers=headers)

    assert response.status_code == 404
    assert "Press embargo" not in response.content.decode()


@pytest.mark.django_db
def test_an_agent_sees_a_conversation_assigned_to_them_outside_their_queues(agent_client, agent_in_service_queue):
    handed_over = make_conversation("pr", text="Handed over to you", assignee=agent_in_service_queue)

    assert agent_client.get(conversation_url(handed_over)).status_code == 200


@pytest.mark.django_db
def test_an_agent_cannot_list_another_queue(agent_client):
    make_conversation("pr", text="Press embargo until Monday")

    response = agent_client.get(INBOX + "?queue=pr")

    assert response.status_code == 404
    assert "Press embargo" not in response.content.decode()


@pytest.mark.django_db
def test_a_manager_sees_every_queue(client, manager):
    make_conversation("pr", text="Press embargo until Monday")
    client.force_login(manager)

    response = client.get(INBOX + "?queue=pr")

    assert [s.queue.slug for s in response.context["summaries"]] == ["service", "pr", "marketing", "sales", "product"]
    assert "Press embargo until Monday" in response.content.decode()


@pytest.mark.django_db
def test_an_agent_in_no_queue_is_told_so(client):
    client.force_login(make_user("newbie", role="agent"))
    assert "not in any queue yet" in client.get(INBOX).content.decode()


@pytest.mark.django_db
def test_an_unknown_status_filter_is_a_clear_error(agent_client):
    response = agent_client.get(INBOX + "?status=everything")
    assert response.status_code == 400
    assert "Unknown status filter" in response.content.decode()


@pytest.mark.django_db
def test_customer_text_is_escaped(agent_client):
    payload = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    customer = make_customer(payload)
    conversation = make_conversation("service", text=payload, customer=customer)
    conversation.messages.update(url="javascript:alert(3)")

    for url in (INBOX, conversation_url(conversation)):
        page = agent_client.get(url).content.decode()
        assert "<script>alert(1)" not in page
        assert "<img src=x" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "javascript:alert" not in page


@pytest.mark.django_db
def test_the_inbox_makes_a_bounded_number_of_queries(agent_client, django_assert_max_num_queries):
    for number in range(30):
        make_conversation("service", text=f"question {number}", customer=make_customer(f"Customer {number}"))
    conversation = Conversation.objects.first()

    with django_assert_max_num_queries(9):  # session, user, queues with counts, the list, the queue's members
        agent_client.get(INBOX)
    # A fixed number, however long the thread: session and user, access, the list, the thread with its
    # triage, notes, the customer sidebar, queues, labels, canned replies, macros and the queue's members.
    with django_assert_max_num_queries(19):
        agent_client.get(conversation_url(conversation))


@pytest.mark.django_db
def test_membership_of_a_deactivated_queue_grants_nothing(agent_client):
    from triage.models import Queue

    conversation = make_conversation("service", text="Old team's case")
    Queue.objects.filter(slug="service").update(is_active=False)

    assert agent_client.get(conversation_url(conversation)).status_code == 404


@pytest.mark.django_db
def test_taking_over_a_colleagues_conversation_asks_first(agent_client):
    colleague = make_user("kim", role="agent", queues=("service",))
    colleague.first_name = 'Kim "KK" Lee'
    colleague.save()
    theirs = make_conversation("service", text="Refund please", assignee=colleague, status=Conversation.Status.OPEN)
    nobodys = make_conversation("service", text="Hello")

    taken = agent_client.get(conversation_url(theirs)).content.decode()
    free = agent_client.get(conversation_url(nobodys)).content.decode()

    assert 'hx-confirm="Kim &quot;KK&quot; Lee is working on this conversation. Take it over from them?"' in taken
    assert ">Take over</button>" in taken
    assert "hx-confirm" not in free and ">Assign to me</button>" in free


@pytest.mark.django_db
def test_an_e_mail_identity_shows_no_followers(agent_client):
    from tests.factories import make_channel

    by_mail = make_conversation("service", channel=make_channel("mail", network="email", kind="email"))
    on_x = make_conversation("service", customer=make_customer("Fox"))

    assert "followers" not in agent_client.get(conversation_url(by_mail)).content.decode().split('class="customer"')[1]
    assert "120 followers" in agent_client.get(conversation_url(on_x)).content.decode()
