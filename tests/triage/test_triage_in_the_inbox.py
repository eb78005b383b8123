"""Triage on stored messages: decisions, the conversation's queue, the reason shown to agents, corrections."""

import pytest
from django.core.management import call_command

from inbox.mentions import IncomingAuthor, IncomingMention
from inbox.models import Conversation, Event, Message
from inbox.services.ingest import ingest
from inbox.services.triage import triage_messages
from tests.factories import make_channel, make_conversation, make_user
from triage.models import Correction, Priority, Queue, TriageDecision
from triage.pipeline import Item, decide

pytestmark = pytest.mark.django_db

ANGRY = "@kestrel three days without signal and nobody answers. Disgraceful service, I want a refund"


def mention(external_id: str, text: str, *, followers: int = 10, reply_to: str = "", author: str = "u1"):
    return IncomingMention(
        external_id=external_id,
        text=text,
        author=IncomingAuthor(external_id=author, handle=f"@{author}", followers=followers),
        in_reply_to=reply_to,
    )


@pytest.fixture
def channel():
    channel = make_channel("x-main")
    channel.default_queue = Queue.objects.get(slug="marketing")
    channel.save()
    return channel


def test_an_ingested_complaint_is_triaged_and_its_conversation_routed(channel, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = ingest(channel=channel, mentions=[mention("t1", ANGRY)])

    message = Message.objects.get(pk=result.messages[0].id)
    decision = TriageDecision.objects.get(message=message)
    conversation = message.conversation
    assert message.triage_state == Message.TriageState.TRIAGED
    assert decision.message_type == "complaint" and decision.sentiment == "negative" and decision.language == "en"
    assert decision.matched_rule.name == "Complaints" and decision.model_version is not None
    assert decision.explanation.startswith("rule 'Complaints': complaint")
    assert conversation.queue.slug == "service" and conversation.message_type == "complaint"
    assert conversation.first_response_due_at is not None
    assert Event.objects.filter(conversation=conversation, kind=Event.Kind.TRIAGED).count() == 1


def test_an_influencer_complaint_becomes_urgent_pr_work_with_a_label(channel, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ingest(channel=channel, mentions=[mention("t1", ANGRY, followers=480_000)])

    conversation = Conversation.objects.get()
    assert conversation.queue.slug == "pr" and conversation.priority == Priority.URGENT
    assert list(conversation.labels.values_list("name", flat=True)) == ["influencer"]
    policy = conversation.queue.sla_policy
    due = (conversation.first_response_due_at - conversation.created_at).total_seconds() / 60
    urgent = policy.narrowings.get(priority=Priority.URGENT, tier="")  # the seeded policies promise urgent work sooner
    assert urgent.first_response_minutes < policy.first_response_minutes
    assert due == pytest.approx(urgent.first_response_minutes)


def test_a_later_message_does_not_move_the_conversation_but_can_raise_its_priority(
    channel, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ingest(channel=channel, mentions=[mention("t1", "Love the new store design, well done!")])
    conversation = Conversation.objects.get()
    assert conversation.queue.slug == "marketing" and conversation.priority <= Priority.NORMAL

    with django_capture_on_commit_callbacks(execute=True):
        ingest(channel=channel, mentions=[mention("t2", ANGRY, reply_to="t1")])

    conversation.refresh_from_db()
    assert conversation.messages.count() == 2
    assert conversation.queue.slug == "marketing"  # the first message routed it; agents move it if need be
    assert conversation.priority >= Priority.NORMAL and conversation.sentiment == "negative"


def test_triaging_again_changes_nothing(channel, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ingest(channel=channel, mentions=[mention("t1", ANGRY)])
    message = Message.objects.get()
    Conversation.objects.update(queue=Queue.objects.get(slug="product"))  # an agent moved it

    assert triage_messages(message_ids=[message.pk]) == 0
    assert Conversation.objects.get().queue.slug == "product"
    assert TriageDecision.objects.count() == 1


def test_our_own_replies_are_not_triaged():
    conversation = make_conversation()
    reply = Message.objects.create(
        channel=conversation.channel,
        conversation=conversation,
        direction=Message.Direction.OUTBOUND,
        text="Sorry about that!",
        posted_at=conversation.created_at,
    )

    triage_messages(message_ids=[reply.pk])

    assert Message.objects.get(pk=reply.pk).triage_state == Message.TriageState.SKIPPED
    assert not TriageDecision.objects.filter(message=reply).exists()


def test_a_batch_of_500_makes_a_bounded_number_of_queries(channel, django_assert_max_num_queries):
    mentions = [mention(f"t{n}", f"{ANGRY} #{n}", author=f"u{n}") for n in range(500)]
    ingest(channel=channel, mentions=mentions)
    ids = list(Message.objects.values_list("pk", flat=True))
    decide([Item(text="warm up: rules compiled, models loaded")])

    # A fixed number per batch (SQLite splits the 500-row inserts into several statements; PostgreSQL does not).
    with django_assert_max_num_queries(26):
        assert triage_messages(message_ids=ids) == 500


# In the conversation view -----------------------------------------------------------------------


@pytest.fixture
def triaged(agent_in_service_queue):
    conversation = make_conversation(text="<b>Why</b> is my bill double this month?? <script>alert(1)</script>")
    triage_messages(message_ids=[conversation.messages.get().pk])
    conversation.refresh_from_db()
    assert conversation.queue.slug == "service"
    return conversation


def test_the_agent_sees_why_a_message_was_routed_escaped(agent_client, triaged, django_assert_max_num_queries):
    with django_assert_max_num_queries(19):
        page = agent_client.get(f"/inbox/conversations/{triaged.pk}/").content.decode()

    decision = TriageDecision.objects.get()
    assert "Why: rule &#x27;Questions&#x27;" in page or "Why: rule &#x27;Complaints&#x27;" in page
    assert decision.get_message_type_display() in page
    assert "<script>alert(1)</script>" not in page


def test_moving_a_conversation_to_another_queue_records_a_correction(agent_client, triaged, agent_in_service_queue):
    response = agent_client.post(f"/inbox/conversations/{triaged.pk}/queue", {"queue": "sales"})

    assert response.status_code == 302 and response.url == "/inbox/"  # no longer in the agent's queues
    triaged.refresh_from_db()
    assert triaged.queue.slug == "sales"
    correction = Correction.objects.get()
    assert (correction.field, correction.old_value, correction.new_value) == ("queue", "service", "sales")
    assert correction.corrected_by == agent_in_service_queue
    assert Event.objects.filter(conversation=triaged, kind=Event.Kind.QUEUE_CHANGED).exists()
    assert "Moved to Sales" in agent_client.get("/inbox/").content.decode()


def test_moving_within_reach_rerenders_the_pane_for_htmx(client, triaged):
    supervisor = make_user("maria", role="manager")
    client.force_login(supervisor)

    response = client.post(
        f"/inbox/conversations/{triaged.pk}/queue",
        {"queue": "product"},
        headers={"HX-Request": "true", "HX-Target": "conversation-pane"},
    )

    assert response.status_code == 200 and 'id="conversation-pane"' in response.content.decode()
    assert Conversation.objects.get(pk=triaged.pk).queue.slug == "product"


def test_moving_to_an_unknown_or_closed_queue_is_refused_and_changes_nothing(agent_client, triaged):
    Queue.objects.filter(slug="pr").update(is_active=False)

    for queue in ("nowhere", "pr", ""):
        response = agent_client.post(f"/inbox/conversations/{triaged.pk}/queue", {"queue": queue})
        assert response.status_code == 400
    assert Conversation.objects.get(pk=triaged.pk).queue.slug == "service"
    assert not Correction.objects.exists()


def test_correcting_type_and_sentiment_updates_the_decision_and_records_corrections(agent_client, triaged):
    message = triaged.messages.get()

    response = agent_client.post(
        f"/inbox/messages/{message.pk}/triage",
        {"message_type": "lead", "sentiment": "positive"},
        headers={"HX-Request": "true", "HX-Target": "conversation-pane"},
    )

    assert response.status_code == 200
    decision = TriageDecision.objects.get()
    assert (decision.message_type, decision.sentiment) == ("lead", "positive")
    assert set(Correction.objects.values_list("field", "new_value")) == {("type", "lead"), ("sentiment", "positive")}
    triaged.refresh_from_db()
    assert (triaged.message_type, triaged.sentiment) == ("lead", "positive")


def test_an_invalid_correction_is_refused(agent_client, triaged):
    message = triaged.messages.get()

    response = agent_client.post(f"/inbox/messages/{message.pk}/triage", {"message_type": "rant", "sentiment": "meh"})

    assert response.status_code == 400 and not Correction.objects.exists()


def test_an_agent_cannot_correct_or_move_what_they_cannot_see(agent_client):
    elsewhere = make_conversation("pr", text="Hello there")
    triage_messages(message_ids=[elsewhere.messages.get().pk])
    Conversation.objects.filter(pk=elsewhere.pk).update(queue=Queue.objects.get(slug="pr"))
    message = elsewhere.messages.get()

    assert (
        agent_client.post(
            f"/inbox/messages/{message.pk}/triage", {"message_type": "lead", "sentiment": "positive"}
        ).status_code
        == 404
    )
    assert agent_client.post(f"/inbox/conversations/{elsewhere.pk}/queue", {"queue": "service"}).status_code == 404
    assert (
        agent_client.post(
            "/inbox/messages/999999/triage", {"message_type": "lead", "sentiment": "positive"}
        ).status_code
        == 404
    )
    assert not Correction.objects.exists()


def test_the_demo_is_triaged_for_real():
    call_command("load_demo", stdout=None)

    inbound = Message.objects.filter(direction=Message.Direction.INBOUND)
    assert inbound.count() == TriageDecision.objects.count() > 0
    assert not inbound.exclude(triage_state=Message.TriageState.TRIAGED).exists()
