"""The SLA clocks as agents live them: what starts, pauses, meets and moves each due time (triage.sla's rules).

The service queue's seeded policy, in its 24/7 calendar: first response 60 min, next response 60 min,
resolution 24 h, "due soon" 15 min before. Time passing is the stored times moved back (`rewind`).
"""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from customers.models import Customer, Tier
from inbox.models import Conversation, Event, Message, Status
from inbox.services.conversations import add_note, change_priority, change_status, refresh_sla
from inbox.services.ingest import ingest
from inbox.services.replies import reply
from tests.factories import make_channel, make_user
from tests.helpers import mention
from triage.models import Priority, Queue, SlaNarrowing

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)


@pytest.fixture
def channel():
    channel = make_channel("x-main")
    channel.default_queue = Queue.objects.get(slug="service")
    channel.save()
    return channel


@pytest.fixture
def agent():
    return make_user("sam", role="agent", queues=("service",))


def write(channel, external_id, author="u1") -> Conversation:
    """The customer writes (triage does not run: its task waits for a commit these tests never make)."""
    result = ingest(channel=channel, mentions=[mention(external_id, "My phone has no signal", author=author)])
    return Conversation.objects.get(pk=result.messages[0].conversation_id)


def rewind(conversation: Conversation, minutes: float) -> Conversation:
    """Everything that happened to the conversation happened `minutes` earlier: time has passed since."""
    back = timedelta(minutes=minutes)

    def earlier(moment):
        return moment - back if moment else moment

    def earlier_text(text):
        return (datetime.fromisoformat(text) - back).isoformat() if text else text

    conversation.refresh_from_db()
    for field in (
        "created_at",
        "awaiting_since",
        "first_response_at",
        "resolved_at",
        "first_response_due_at",
        "next_response_due_at",
        "resolution_due_at",
        "sla_due_at",
    ):
        setattr(conversation, field, earlier(getattr(conversation, field)))
    conversation.sla_pauses = [[earlier_text(start), earlier_text(end)] for start, end in conversation.sla_pauses]
    refresh_sla(conversation)
    conversation.save()
    return conversation


def close(moment, expected, within=timedelta(seconds=5)) -> bool:
    return moment is not None and abs(moment - expected) <= within


def test_a_new_mention_owes_a_first_response_and_a_resolution_in_the_queues_hours(channel):
    conversation = write(channel, "t1")

    assert conversation.first_response_due_at == conversation.created_at + 60 * MINUTE
    assert conversation.resolution_due_at == conversation.created_at + 24 * 60 * MINUTE
    assert conversation.next_response_due_at is None
    assert conversation.sla_due_at == conversation.first_response_due_at
    assert conversation.sla_alert_at == conversation.sla_due_at - 15 * MINUTE  # "due soon" comes first


def test_pending_stops_the_clocks_and_the_customer_writing_starts_them_again_later_by_the_pause(channel, agent):
    conversation = write(channel, "t1")
    change_status(conversation=conversation, status=Status.PENDING, by=agent)
    conversation.refresh_from_db()
    assert conversation.sla_due_at is None and conversation.first_response_due_at is None  # cannot breach
    assert conversation.sla_alert_at is None

    rewind(conversation, 30)  # it started 30 minutes ago and has waited on the customer since
    conversation = write(channel, "t2")

    assert conversation.status == Status.OPEN
    assert close(conversation.first_response_due_at, conversation.created_at + 60 * MINUTE + 30 * MINUTE)
    assert close(conversation.resolution_due_at, conversation.created_at + 24 * 60 * MINUTE + 30 * MINUTE)


def test_a_note_does_not_meet_the_first_response_and_a_reply_does(channel, agent):
    conversation = write(channel, "t1")
    due = conversation.first_response_due_at
    rewind(conversation, 20)

    add_note(conversation=conversation, author=agent, text="Checking the outage map first")
    conversation.refresh_from_db()
    assert conversation.first_response_at is None and conversation.sla_due_at == due - 20 * MINUTE

    answer = reply(conversation=conversation, text="Sorry! Is it every call or only some?", private=False, by=agent)
    conversation.refresh_from_db()
    assert conversation.first_response_at is not None and conversation.awaiting_since is None
    assert conversation.first_response_due_at == due - 20 * MINUTE  # kept: the report says it was met
    assert conversation.sla_due_at == conversation.resolution_due_at  # only the resolution still runs
    assert answer.answered_due_at == conversation.first_response_due_at
    assert answer.answered_wait_since == conversation.created_at
    assert 20 * 60 - 5 <= answer.answered_business_seconds <= 20 * 60 + 5


def test_the_customer_writing_after_an_answer_starts_a_next_response_clock_that_the_next_reply_meets(channel, agent):
    conversation = write(channel, "t1")
    reply(conversation=conversation, text="Is it every call?", private=False, by=agent)
    rewind(conversation, 90)

    conversation = write(channel, "t2")  # the customer answers the question
    assert close(conversation.next_response_due_at, timezone.now() + 60 * MINUTE)
    assert conversation.sla_due_at == conversation.next_response_due_at
    assert conversation.first_response_due_at < conversation.first_response_at + 60 * MINUTE  # untouched

    conversation = write(channel, "t3")  # writing again while waiting does not restart the wait
    assert close(conversation.next_response_due_at, timezone.now() + 60 * MINUTE)
    due = conversation.next_response_due_at

    answer = reply(conversation=conversation, text="Thanks, resetting your line now.", private=True, by=agent)
    conversation.refresh_from_db()
    assert conversation.awaiting_since is None and conversation.next_response_due_at == due
    assert conversation.sla_due_at == conversation.resolution_due_at
    assert answer.answered_due_at == due


def test_a_reopen_owes_a_next_response_not_a_new_first_response_and_the_resolved_time_is_not_counted(channel, agent):
    conversation = write(channel, "t1")
    reply(conversation=conversation, text="Fixed, try now.", private=False, by=agent)
    change_status(conversation=conversation, status=Status.RESOLVED, by=agent)
    conversation = rewind(conversation, 120)  # resolved two hours ago
    answered, resolution_due = conversation.first_response_at, conversation.resolution_due_at

    conversation = write(channel, "t2")  # "still no signal"

    assert conversation.status == Status.OPEN and conversation.first_response_at == answered
    assert close(conversation.next_response_due_at, timezone.now() + 60 * MINUTE)
    assert close(conversation.resolution_due_at, resolution_due + 120 * MINUTE)  # the clock stood still meanwhile
    assert conversation.sla_due_at == conversation.next_response_due_at


def test_a_policy_promises_a_tier_and_a_priority_their_own_targets(channel, agent):
    policy = Queue.objects.get(slug="service").sla_policy
    SlaNarrowing.objects.create(policy=policy, tier=Tier.VIP, first_response_minutes=10, resolution_minutes=120)
    urgent = SlaNarrowing.objects.get(policy=policy, priority=Priority.URGENT)  # seeded from urgent_factor
    urgent.first_response_minutes, urgent.resolution_minutes = 5, 60
    urgent.save()
    standard = write(channel, "t1", author="u1")
    special = write(channel, "t2", author="u2")
    Customer.objects.filter(pk=special.customer_id).update(tier=Tier.VIP)
    special.refresh_from_db()

    change_priority(conversation=special, priority=Priority.HIGH, by=agent)  # a change re-reads the tier
    special.refresh_from_db()
    assert special.first_response_due_at == special.created_at + 10 * MINUTE
    assert standard.first_response_due_at == standard.created_at + 60 * MINUTE

    change_priority(conversation=standard, priority=Priority.URGENT, by=agent)
    standard.refresh_from_db()
    assert standard.first_response_due_at == standard.created_at + 5 * MINUTE
    assert standard.resolution_due_at == standard.created_at + 60 * MINUTE


def test_a_queue_without_a_policy_has_no_due_times_and_nothing_to_check(channel):
    Queue.objects.filter(slug="service").update(sla_policy=None)
    conversation = write(channel, "t1")
    assert conversation.sla_due_at is None and conversation.sla_alert_at is None
    assert conversation.first_response_due_at is None


def test_every_reply_kind_is_stored_as_history_only_on_the_reply_that_answered_a_wait(channel, agent):
    conversation = write(channel, "t1")
    first = reply(conversation=conversation, text="On it.", private=False, by=agent)
    second = reply(conversation=conversation, text="Also: restart the phone.", private=False, by=agent)
    assert first.answered_wait_since is not None
    assert Message.objects.get(pk=second.pk).answered_wait_since is None  # nobody was waiting for it
    assert not Event.objects.filter(kind=Event.Kind.SLA_BREACHED).exists()


def test_the_pane_shows_each_clock_and_why_it_stands_still(channel, agent, client):
    client.force_login(agent)
    conversation = write(channel, "t1")
    page = client.get(f"/inbox/conversations/{conversation.pk}/").content.decode()
    assert "First response" in page and "Resolution" in page and "59 min left" in page

    reply(conversation=conversation, text="Could you DM us the order number?", private=False, by=agent)
    change_status(conversation=conversation, status=Status.PENDING, by=agent)
    page = client.get(f"/inbox/conversations/{conversation.pk}/").content.decode()
    assert '<span class="tag tag-positive">Met</span>' in page  # the first response
    assert "Paused while waiting on the customer; it runs again when they write." in page
