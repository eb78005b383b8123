"""Macros: a canned reply and its changes in one step, set up by managers in the app's settings."""

import pytest

from inbox.models import CannedReply, Conversation, Event, Label, Macro, Message
from tests.factories import make_conversation, make_customer
from triage.models import Priority, Queue

pytestmark = pytest.mark.django_db


@pytest.fixture
def refund_macro():
    macro = Macro.objects.create(
        name="Refund on its way",
        reply="Hi {{ customer.first_name }}, your refund is on its way. {{ agent.first_name }}",
        set_status="pending",
        set_priority=Priority.HIGH,
    )
    macro.add_labels.set([Label.objects.create(name="refund")])
    return macro


def apply(client, conversation, macro):
    return client.post(
        f"/inbox/conversations/{conversation.pk}/macro", {"macro": macro.pk}, headers={"HX-Request": "true"}
    )


def test_a_macro_replies_labels_and_sets_priority_and_status_in_one_step(agent_client, refund_macro):
    conversation = make_conversation("service", text="Where is my refund?", customer=make_customer("Dana Scully"))
    conversation.labels.set([Label.objects.create(name="vip")])

    response = apply(agent_client, conversation, refund_macro)

    assert response.status_code == 200
    conversation.refresh_from_db()
    sent = Message.objects.get(conversation=conversation, direction="out")
    assert sent.text == "Hi Dana, your refund is on its way. sam"
    assert set(conversation.labels.values_list("name", flat=True)) == {"vip", "refund"}
    assert (conversation.status, conversation.priority) == ("pending", Priority.HIGH)
    kinds = set(Event.objects.filter(conversation=conversation).values_list("kind", flat=True))
    assert {"reply_sent", "labels_changed", "priority_changed", "status_changed"} <= kinds


def test_a_refused_step_keeps_no_step_and_sends_nothing(agent_client, refund_macro):
    closed = Queue.objects.get(slug="product")
    closed.is_active = False
    closed.save()
    refund_macro.move_to_queue = closed
    refund_macro.save()
    conversation = make_conversation("service")

    response = apply(agent_client, conversation, refund_macro)

    assert response.status_code == 400 and "closed" in response.text
    conversation.refresh_from_db()
    assert not Message.objects.filter(direction="out").exists()
    assert (conversation.status, list(conversation.labels.all())) == ("new", [])


def test_a_macro_of_another_queue_and_a_conversation_out_of_sight_are_refused(agent_client, refund_macro):
    refund_macro.queue = Queue.objects.get(slug="sales")
    refund_macro.save()
    mine = make_conversation("service")
    theirs = make_conversation("pr")

    assert apply(agent_client, mine, refund_macro).status_code == 400
    assert apply(agent_client, theirs, refund_macro).status_code == 404
    assert not Message.objects.filter(direction="out").exists()


def test_the_pane_offers_the_macros_of_its_queue_with_what_each_does(agent_client, refund_macro):
    Macro.objects.create(name="Sales only", set_status="resolved", queue=Queue.objects.get(slug="sales"))
    conversation = make_conversation("service")

    page = agent_client.get(f"/inbox/conversations/{conversation.pk}/").text

    assert "Refund on its way — reply, label refund, priority high, mark pending (waiting on customer)" in page
    assert "Sales only" not in page


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def test_a_manager_sets_up_a_canned_reply_a_label_and_a_macro_in_the_app(manager_client):
    made = manager_client.post(
        "/settings/canned-replies/new",
        {"title": "Thanks", "shortcut": "thanks", "body": "Thanks {{ customer.first_name }}!", "queue": ""},
    )
    assert made.status_code == 302 and CannedReply.objects.get().shortcut == "thanks"
    manager_client.post("/settings/labels/new", {"name": "outage", "color": "#dc2626"})
    label = Label.objects.get(name="outage")
    manager_client.post(
        "/settings/macros/new",
        {"name": "Outage", "reply": "", "add_labels": [label.pk], "set_priority": "2", "set_status": ""},
    )
    assert Macro.objects.get().steps() == ["label outage", "priority high"]

    listing = manager_client.get("/settings/macros/").text
    assert "Label outage, priority high" in listing


@pytest.mark.parametrize(
    ("path", "form", "error"),
    [
        ("/settings/labels/new", {"name": "x", "color": "red"}, "Give the colour as #rrggbb"),
        ("/settings/canned-replies/new", {"title": "T", "shortcut": "two words", "body": "b"}, "Enter a valid"),
        ("/settings/macros/new", {"name": "Nothing", "reply": "", "set_status": ""}, "A macro does something"),
        ("/settings/macros/new", {"name": "Bad", "set_status": "snoozed"}, "Select a valid choice"),
    ],
)
def test_bad_settings_are_refused_with_the_reason_and_nothing_is_stored(manager_client, path, form, error):
    response = manager_client.post(path, form)

    assert response.status_code == 400 and error in response.text
    assert not Label.objects.filter(name="x").exists() and not Macro.objects.exists()
    assert not CannedReply.objects.exists()


def test_the_preview_fills_the_variables_and_escapes_the_rest(manager_client, manager):
    manager.first_name = "Maria"
    manager.save()

    preview = manager_client.post(
        "/settings/preview", {"body": "Hi {{ customer.first_name }} <script>x</script>\n\n{{ agent.first_name }}"}
    )

    assert "Hi Dana &lt;script&gt;x&lt;/script&gt;" in preview.text and "<p>Maria</p>" in preview.text


def test_agents_are_told_who_sets_these_up(agent_client):
    response = agent_client.get("/settings/macros/")

    assert response.status_code == 403 and "Macros are set up by managers and admins" in response.text
    assert agent_client.get("/settings/").url == "/settings/preferences"
    assert agent_client.post("/settings/preview", {"body": "x"}).status_code == 403
    macro = Macro.objects.create(name="Close", set_status="resolved")
    assert agent_client.get(f"/settings/macros/{macro.pk}/").status_code == 403
    assert agent_client.post(f"/settings/macros/{macro.pk}/", {"name": "Mine", "set_status": "open"}).status_code == 403
    assert agent_client.post(f"/settings/macros/{macro.pk}/delete").status_code == 403
    assert Macro.objects.get().name == "Close"


def test_deleting_a_label_in_use_takes_it_off_conversations(manager_client):
    label = Label.objects.create(name="old")
    conversation = make_conversation("service")
    conversation.labels.set([label])

    manager_client.post(f"/settings/labels/{label.pk}/delete")

    assert not Label.objects.exists() and list(Conversation.objects.get().labels.all()) == []
