"""The conversation list: filters, and keyset pages that visit every conversation exactly once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inbox.models import Conversation, Label
from inbox.selectors import ListFilters, conversation_list
from socialcrm.errors import Refused
from tests.factories import make_channel, make_conversation, make_user
from triage.models import Queue

pytestmark = pytest.mark.django_db


def all_pages(user, **options):
    seen, cursor, pages = [], "", 0
    while True:
        rows, cursor = conversation_list(
            user, queue=Queue.objects.get(slug="service"), after=cursor, limit=7, **options
        )
        seen += [row.pk for row in rows]
        pages += 1
        if not cursor:
            return seen, pages


def test_pages_visit_every_conversation_once_in_priority_then_due_order(agent_in_service_queue):
    now = timezone.now()
    for n in range(40):
        due = None if n % 5 == 0 else now + timedelta(minutes=n % 3)  # ties and missing due times
        make_conversation("service", text=f"c{n}", priority=n % 4, sla_due_at=due)

    seen, pages = all_pages(agent_in_service_queue)

    expected = sorted(
        Conversation.objects.all(),
        key=lambda c: (-c.priority, c.sla_due_at or now + timedelta(days=10**5), c.pk),
    )
    assert seen == [c.pk for c in expected] and pages == 6


def test_resolved_pages_run_latest_first(agent_in_service_queue):
    now = timezone.now()
    for n in range(15):
        make_conversation("service", status=Conversation.Status.RESOLVED, resolved_at=now - timedelta(minutes=n % 4))

    seen, _ = all_pages(agent_in_service_queue, status_filter="resolved")

    expected = sorted(Conversation.objects.all(), key=lambda c: (-c.resolved_at.timestamp(), -c.pk))
    assert seen == [c.pk for c in expected]


def test_filters_narrow_the_list(agent_client):
    complaint = make_conversation("service", text="broken", message_type="complaint", sentiment="negative")
    make_conversation("service", text="thanks", message_type="compliment", sentiment="positive")
    on_facebook = make_conversation(
        "service", text="fb", channel=make_channel("fb", network="facebook", kind="facebook")
    )
    Label.objects.create(name="refund").conversations.add(complaint)

    def listed(query):
        page = agent_client.get(f"/inbox/?queue=service{query}").content.decode()
        return {pk for pk in Conversation.objects.values_list("pk", flat=True) if f'id="conversation-{pk}"' in page}

    assert listed("&type=complaint") == {complaint.pk}
    assert listed("&sentiment=positive&type=complaint") == set()
    assert listed("&network=facebook") == {on_facebook.pk}
    assert listed("&label=refund") == {complaint.pk}
    colleague = make_user("tom", queues=("service",))
    Conversation.objects.filter(pk=complaint.pk).update(assignee=colleague)
    assert listed(f"&assignee={colleague.pk}") == {complaint.pk}
    assert complaint.pk not in listed("&assignee=none") and on_facebook.pk in listed("&assignee=none")
    page = agent_client.get("/inbox/?queue=service&assignee=none").content.decode()
    assert f'<option value="{colleague.pk}">tom</option>' in page and '<option value="none" selected>' in page
    assert "that match the filters" in agent_client.get("/inbox/?queue=service&label=nope").content.decode()


def test_sorted_by_time_to_breach_pages_visit_every_conversation_once_soonest_first(agent_in_service_queue):
    now = timezone.now()
    for n in range(30):
        due = None if n % 6 == 0 else now + timedelta(minutes=(n * 7) % 11 - 5)  # ties, breached, none
        make_conversation("service", text=f"c{n}", priority=n % 4, sla_due_at=due)

    seen, pages = all_pages(agent_in_service_queue, filters=ListFilters(sort="breach"))

    expected = sorted(Conversation.objects.all(), key=lambda c: (c.sla_due_at or now + timedelta(days=10**5), c.pk))
    assert seen == [c.pk for c in expected] and pages == 5


def test_the_list_narrows_to_breached_or_due_soon_and_each_row_shows_its_time_to_breach(agent_client):
    now = timezone.now()
    breached = make_conversation("service", text="late", sla_due_at=now - timedelta(minutes=7, seconds=10))
    soon = make_conversation("service", text="soon", sla_due_at=now + timedelta(minutes=10, seconds=30))
    later = make_conversation("service", text="later", sla_due_at=now + timedelta(hours=3, minutes=1, seconds=30))
    make_conversation("service", text="no policy", sla_due_at=None)

    def listed(query):
        page = agent_client.get(f"/inbox/?queue=service{query}").content.decode()
        return [pk for pk in Conversation.objects.values_list("pk", flat=True) if f'id="conversation-{pk}"' in page]

    assert listed("&sla=breached") == [breached.pk]
    assert listed("&sla=due_soon") == [soon.pk]  # within the policy's 15-minute warning
    page = agent_client.get("/inbox/?queue=service").content.decode()
    assert 'class="due due-breached"' in page and "7 min over" in page
    assert 'class="due due-due_soon"' in page and "10 min left" in page
    assert 'class="due due-running"' in page and "3 h 1 min left" in page
    # The sidebar's overdue count is a link to exactly those rows.
    assert 'href="/inbox/?queue=service&amp;status=active&amp;sla=breached&amp;sort=breach"' in page
    assert later.pk not in listed("&sla=breached")


@pytest.mark.parametrize(
    "query",
    [
        "&type=rant",
        "&network=myspace",
        "&sentiment=meh",
        "&assignee=bob",
        "&after=garbage",
        "&after=1_2",
        "&sla=late",
        "&sort=name",
        "&sort=breach&after=1_2_3",
    ],
)
def test_unknown_filters_and_broken_cursors_are_a_clear_400(agent_client, query):
    make_conversation("service")

    response = agent_client.get(f"/inbox/?queue=service{query}")

    assert response.status_code == 400


def test_show_more_appends_the_next_page_for_htmx_with_a_fixed_number_of_queries(
    agent_client, django_assert_max_num_queries
):
    for n in range(40):
        make_conversation("service", text=f"c{n}")
    first = agent_client.get("/inbox/?queue=service").content.decode()
    assert first.count('class="row ') == 30 and 'id="more-rows"' in first
    cursor = first.split("&amp;after=")[1].split('"')[0]

    with django_assert_max_num_queries(8):
        more = agent_client.get(
            f"/inbox/?queue=service&status=active&after={cursor}",
            headers={"HX-Request": "true", "HX-Target": "more-rows"},
        ).content.decode()

    assert more.count('class="row ') == 10 and 'id="more-rows"' not in more and "<html" not in more


def test_filters_are_parsed_strictly():
    with pytest.raises(Refused, match="Unknown type"):
        ListFilters.from_query({"type": "rant"})
    assert ListFilters.from_query({"label": "x" * 80}).label == "x" * 50
    assert ListFilters(message_type="lead", label="vip & co").as_query() == "&type=lead&label=vip+%26+co"


def test_rows_show_the_authors_influence_and_the_conversations_age(agent_client):
    from customers.models import Identity
    from inbox.services.triage import triage_messages

    loud = make_conversation("service", text="My phone died after the update")
    Identity.objects.filter(customer=loud.customer).update(followers=900_000, verified=True)
    quiet = make_conversation("service", text="How do I reset my PIN?")
    triage_messages(message_ids=[loud.messages.get().pk, quiet.messages.get().pk])
    Conversation.objects.update(queue=Queue.objects.get(slug="service"))

    page = agent_client.get("/inbox/?queue=service").content.decode()

    loud_row = page.split(f'id="conversation-{loud.pk}"')[1].split("</li>")[0]
    quiet_row = page.split(f'id="conversation-{quiet.pk}"')[1].split("</li>")[0]
    assert "High influence" in loud_row and "influence" not in quiet_row
    assert "opened" in loud_row


def test_a_paused_conversation_that_breached_before_its_pause_does_not_count_on(agent_client):
    make_conversation(
        "service", status=Conversation.Status.PENDING, sla_due_at=timezone.now() - timedelta(hours=2), text="late"
    )
    page = agent_client.get("/inbox/?queue=service&status=pending").content.decode()
    assert "Breached · paused" in page and "over</span>" not in page and "data-due=" not in page
