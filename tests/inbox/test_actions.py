"""What agents do to a conversation: assign, get next, resolve, snooze, notes. Each audited, each behind access."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inbox.models import Conversation, Event, Note
from inbox.services.conversations import get_next, wake_snoozed
from tests.factories import make_conversation, make_user
from tests.helpers import HX

pytestmark = pytest.mark.django_db


def test_assign_to_me_opens_a_new_conversation_and_is_audited(agent_client, agent_in_service_queue):
    conversation = make_conversation("service")

    response = agent_client.post(f"/inbox/conversations/{conversation.pk}/assign", {"assignee": "me"}, headers=HX)

    assert response.status_code == 200 and "Unassign me" in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.assignee == agent_in_service_queue and conversation.status == Conversation.Status.OPEN
    event = Event.objects.get(kind=Event.Kind.ASSIGNED)
    assert event.actor == agent_in_service_queue and event.data == {"old": "", "new": "sam"}

    agent_client.post(f"/inbox/conversations/{conversation.pk}/assign", {"assignee": ""}, headers=HX)
    assert Conversation.objects.get().assignee is None


def test_an_agent_cannot_assign_to_someone_else_and_a_supervisor_cannot_assign_outside_the_queue(client):
    conversation = make_conversation("service")
    agent = make_user("sam", role="agent", queues=("service",))
    outsider = make_user("otto", role="agent", queues=("sales",))
    client.force_login(agent)
    assert client.post(f"/inbox/conversations/{conversation.pk}/assign", {"assignee": outsider.pk}).status_code == 400

    client.force_login(make_user("maria", role="manager"))
    response = client.post(f"/inbox/conversations/{conversation.pk}/assign", {"assignee": outsider.pk})
    assert response.status_code == 400 and "does not work this conversation" in response.content.decode()
    assert client.post(f"/inbox/conversations/{conversation.pk}/assign", {"assignee": agent.pk}).status_code == 302
    assert Conversation.objects.get().assignee == agent


def test_a_supervisor_gives_a_conversation_to_a_colleague_from_the_pane(client):
    conversation = make_conversation("service")
    sam = make_user("sam", role="agent", queues=("service",))
    sam.first_name, sam.last_name = "Sam", "Reyes"
    sam.save()
    make_user("otto", role="agent", queues=("sales",))
    client.force_login(make_user("maria", role="manager"))

    pane = client.get(f"/inbox/conversations/{conversation.pk}/", headers=HX).content.decode()
    assert "Give to a colleague" in pane and "Sam Reyes" in pane and "otto" not in pane  # who works its queue

    response = client.post(f"/inbox/conversations/{conversation.pk}/assign", {"assignee": sam.pk}, headers=HX)
    assert response.status_code == 200 and Conversation.objects.get().assignee == sam
    assert f'<option value="{sam.pk}" selected>Sam Reyes</option>' in response.content.decode()

    client.force_login(sam)  # an agent is not offered colleagues
    pane = client.get(f"/inbox/conversations/{conversation.pk}/", headers=HX).content.decode()
    assert "Give to a colleague" not in pane


def test_get_next_claims_the_most_urgent_unassigned_conversation_in_my_queues(agent_client, agent_in_service_queue):
    make_conversation("service", text="normal")
    urgent = make_conversation("service", text="urgent", priority=3)
    make_conversation("sales", text="not my queue", priority=3)
    make_conversation("service", text="taken", priority=3, assignee=make_user("tom", queues=("service",)))

    response = agent_client.post("/inbox/next")

    assert response.status_code == 302 and response.url == f"/inbox/conversations/{urgent.pk}/"
    urgent.refresh_from_db()
    assert urgent.assignee == agent_in_service_queue and urgent.status == Conversation.Status.OPEN
    assert Event.objects.get(kind=Event.Kind.ASSIGNED).data["via"] == "get next"


def test_get_next_with_nothing_waiting_says_so(agent_client):
    response = agent_client.post("/inbox/next", follow=True)

    assert "Nothing is waiting" in response.content.decode()


def test_resolve_reopen_and_pending_follow_the_allowed_transitions(agent_client):
    conversation = make_conversation("service")
    url = f"/inbox/conversations/{conversation.pk}/status"

    assert agent_client.post(url, {"status": "resolved"}, headers=HX).status_code == 200
    assert Conversation.objects.get().status == "resolved"
    assert (
        agent_client.post(url, {"status": "pending"}, headers=HX).status_code == 400
    )  # resolved -> pending is not allowed
    assert agent_client.post(url, {"status": "open"}, headers=HX).status_code == 200
    assert Conversation.objects.get().status == "open"
    assert agent_client.post(url, {"status": "closed-forever"}).status_code == 400
    assert Event.objects.filter(kind=Event.Kind.STATUS_CHANGED).count() == 2


def test_a_snoozed_conversation_reopens_by_itself(agent_client):
    conversation = make_conversation("service")
    url = f"/inbox/conversations/{conversation.pk}/status"
    assert agent_client.post(url, {"status": "snoozed"}).status_code == 400  # for how long?

    agent_client.post(url, {"status": "snoozed", "snooze_hours": 4}, headers=HX)

    conversation.refresh_from_db()
    assert conversation.status == "snoozed"
    assert timedelta(hours=3, minutes=59) < conversation.snoozed_until - timezone.now() <= timedelta(hours=4)
    assert wake_snoozed() == 0
    assert wake_snoozed(now=timezone.now() + timedelta(hours=5)) == 1
    assert Conversation.objects.get().status == "open"


def test_a_note_mentions_colleagues_who_may_see_the_conversation(agent_client, agent_in_service_queue):
    conversation = make_conversation("service")
    tom = make_user("tom", role="agent", queues=("service",))
    make_user("otto", role="agent", queues=("sales",))

    response = agent_client.post(
        f"/inbox/conversations/{conversation.pk}/notes",
        {"text": "@tom can you check the refund? cc @otto @nobody <img src=x onerror=alert(1)>"},
        headers=HX,
    )

    assert response.status_code == 200
    note = Note.objects.get()
    assert list(note.mentions.all()) == [tom]
    assert Event.objects.get(kind=Event.Kind.NOTE_ADDED).data["mentions"] == ["tom"]
    body = response.content.decode()
    assert "@tom" in body and "<img src=x" not in body and "&lt;img src=x" in body


def test_an_empty_note_is_refused(agent_client):
    conversation = make_conversation("service")

    response = agent_client.post(f"/inbox/conversations/{conversation.pk}/notes", {"text": "   "})

    assert response.status_code == 400 and not Note.objects.exists()


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("assign", {"assignee": "me"}),
        ("status", {"status": "resolved"}),
        ("notes", {"text": "hello"}),
    ],
)
def test_another_queues_conversation_is_404_for_every_action(agent_client, path, data):
    elsewhere = make_conversation("pr")

    assert agent_client.post(f"/inbox/conversations/{elsewhere.pk}/{path}", data).status_code == 404
    elsewhere.refresh_from_db()
    assert elsewhere.assignee is None and elsewhere.status == "new" and not Note.objects.exists()


def test_get_next_never_reaches_outside_my_queues(agent_in_service_queue):
    make_conversation("pr", priority=3)

    assert get_next(agent=agent_in_service_queue) is None


def test_priority_and_labels_change_together_and_urgent_moves_the_sla(agent_client):
    from inbox.models import Label

    conversation = make_conversation("service")
    refund = Label.objects.create(name="refund")
    vip = Label.objects.create(name="vip")
    url = f"/inbox/conversations/{conversation.pk}/priority"

    response = agent_client.post(url, {"priority": 3, "labels": [refund.pk, vip.pk]}, headers=HX)

    assert response.status_code == 200
    conversation.refresh_from_db()
    assert conversation.priority == 3 and set(conversation.labels.values_list("name", flat=True)) == {"refund", "vip"}
    assert conversation.first_response_due_at is not None
    kinds = set(Event.objects.values_list("kind", flat=True))
    assert {Event.Kind.PRIORITY_CHANGED, Event.Kind.LABELS_CHANGED} <= kinds
    assert agent_client.post(url, {"priority": 9}).status_code == 400
    assert agent_client.post(url, {"priority": 1, "labels": [99999]}).status_code == 400
    assert Conversation.objects.get().priority == 3


def test_canned_replies_are_filled_in_for_the_customer_without_running_templates(agent_client):
    from inbox.models import CannedReply
    from tests.factories import make_customer

    CannedReply.objects.create(
        title="Sorry",
        shortcut="sorry",
        body="Hi {{ customer.first_name }}, {{ agent.first_name }} here. {{ settings.SECRET_KEY }} {% debug %}",
    )
    conversation = make_conversation("service", customer=make_customer("Dana <b>Scully</b>"))

    page = agent_client.get(f"/inbox/conversations/{conversation.pk}/").content.decode()

    assert "Hi Dana, sam here. {{ settings.SECRET_KEY }} {% debug %}" in page.replace("&lt;b&gt;", "<b>")
    assert "<b>Scully" not in page


def test_the_queue_board_shows_each_queues_load_and_hands_out_work(client, django_assert_max_num_queries):
    from tests.factories import make_customer

    manager = make_user("maria", role="manager")
    tom = make_user("tom", role="agent", queues=("service",))
    make_conversation("service", assignee=tom, status=Conversation.Status.OPEN)
    overdue = make_conversation(
        "service",
        customer=make_customer("Dana <script>x</script>"),
        first_response_due_at=timezone.now() - timedelta(hours=1),
        sla_due_at=timezone.now() - timedelta(hours=1),
    )
    make_conversation("sales")
    client.force_login(manager)

    with django_assert_max_num_queries(14):
        page = client.get("/inbox/board").content.decode()

    assert "Queue board" in page and "SLA breaches" in page
    assert "Dana &lt;script&gt;" in page and "<script>x" not in page
    response = client.post(f"/inbox/conversations/{overdue.pk}/assign", {"assignee": tom.pk, "next": "board"})
    assert response.status_code == 302 and response.url == "/inbox/board"
    assert Conversation.objects.get(pk=overdue.pk).assignee == tom


def test_the_boards_give_to_offers_the_least_loaded_agent_first_never_the_idle_manager(client):
    manager = make_user("maria", role="manager", queues=("service",))
    busy = make_user("tom", role="agent", queues=("service",))
    quiet = make_user("zoe", role="agent", queues=("service",))
    for _ in range(2):
        make_conversation("service", assignee=busy, status=Conversation.Status.OPEN)
    make_conversation("service", assignee=quiet, status=Conversation.Status.OPEN)
    waiting = make_conversation("service")
    client.force_login(manager)

    page = client.get("/inbox/board").content.decode()

    give = page.split(f'id="give-{waiting.pk}"')[1].split("</select>")[0]
    offered = [value for value in give.split('<option value="')[1:]]
    assert [int(option.split('"')[0]) for option in offered] == [quiet.pk, busy.pk, manager.pk]


def test_agents_are_told_the_board_is_for_managers(agent_client):
    response = agent_client.get("/inbox/board")

    assert response.status_code == 403
    assert "The queue board is for managers and admins" in response.text


def test_bulk_actions_go_through_the_services_and_skip_what_the_agent_cannot_see(agent_client, agent_in_service_queue):
    mine = [make_conversation("service", text=f"c{n}") for n in range(3)]
    already = make_conversation("service", status=Conversation.Status.RESOLVED)
    elsewhere = make_conversation("pr")
    ids = [c.pk for c in [*mine, already, elsewhere]]

    response = agent_client.post(
        "/inbox/bulk", {"action": "resolved", "ids": ids, "back": "/inbox/?queue=service"}, follow=True
    )

    body = response.content.decode()
    assert "Resolve: 3 conversations." in body and f"#{already.pk}" in body and "1 not found in your queues" in body
    assert Conversation.objects.filter(pk__in=[c.pk for c in mine], status="resolved").count() == 3
    assert Conversation.objects.get(pk=elsewhere.pk).status == "new"
    assert Event.objects.filter(kind=Event.Kind.STATUS_CHANGED).count() == 3


def test_bulk_assign_and_move(agent_client, agent_in_service_queue):
    picked = [make_conversation("service") for _ in range(2)]
    ids = [c.pk for c in picked]

    agent_client.post("/inbox/bulk", {"action": "assign_me", "ids": ids})
    assert set(Conversation.objects.values_list("assignee", flat=True)) == {agent_in_service_queue.pk}
    agent_client.post("/inbox/bulk", {"action": "move:product", "ids": ids})
    assert set(Conversation.objects.values_list("queue__slug", flat=True)) == {"product"}
    # Now in Product, but still assigned to the agent, so still theirs to see.


@pytest.mark.parametrize(
    "data",
    [{"action": "explode", "ids": [1]}, {"action": "resolved"}, {"action": "move:nowhere", "ids": [1]}],
)
def test_bulk_refuses_unclear_requests_back_on_the_list_saying_why(agent_client, data):
    make_conversation("service")

    response = agent_client.post("/inbox/bulk", {**data, "back": "/inbox/?queue=service"}, follow=True)

    assert response.redirect_chain == [("/inbox/?queue=service", 302)]
    assert "Nothing changed: " in response.text
    assert Conversation.objects.get().status == "new"


def test_bulk_never_redirects_off_site(agent_client):
    conversation = make_conversation("service")

    response = agent_client.post(
        "/inbox/bulk", {"action": "pending", "ids": [conversation.pk], "back": "https://evil.example/"}
    )

    assert response.status_code == 302 and response.url == "/inbox/"


@pytest.mark.parametrize("action", ["notes", "reply"])
def test_a_nul_character_is_refused_not_a_server_error(agent_client, action):
    conversation = make_conversation("service")

    response = agent_client.post(
        f"/inbox/conversations/{conversation.pk}/{action}", {"text": "hi\x00there"}, headers=HX
    )

    assert response.status_code == 400 and "NUL character" in response.content.decode()
    assert not Note.objects.exists() and conversation.messages.count() == 1
