"""Each verb that changes what a list shows publishes it itself (inbox.live.send_on_commit), after commit.

The audit trail publishes nothing; the live module works out, from where a conversation was when it
was read, which streams lose it. The socket end of this is tests/inbox/test_live.py.
"""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from inbox import live
from inbox.models import Channel, Conversation, Event, Label, Message
from inbox.services.conversations import (
    add_note,
    assign_conversation,
    change_priority,
    change_status,
    get_next,
    record_event,
    set_labels,
    wake_snoozed,
)
from inbox.services.replies import deliver, reply, retry_reply
from inbox.services.triage import change_queue, correct_message, triage_messages
from tests.factories import ensure_migrated_data, make_channel, make_conversation, make_user
from triage.models import Priority, Queue

pytestmark = pytest.mark.django_db


@pytest.fixture
def sam():
    ensure_migrated_data()
    return make_user("sam", role="agent", queues=("service",))


def service_stream() -> str:
    return live.queue_group(Queue.objects.get(slug="service").pk)


def pr_stream() -> str:
    return live.queue_group(Queue.objects.get(slug="pr").pk)


def triaged(conversation: Conversation) -> Conversation:
    triage_messages(message_ids=list(conversation.messages.values_list("pk", flat=True)))
    return Conversation.objects.get(pk=conversation.pk)


def failed_reply(conversation: Conversation) -> Message:
    return Message.objects.create(
        channel=conversation.channel, conversation=conversation, direction="out", text="On it",
        posted_at=conversation.created_at, delivery=Message.Delivery.FAILED,
    )  # fmt: skip


VERBS = {
    "change_status": lambda c, sam: change_status(conversation=c, status="resolved", by=sam),
    "assign_conversation": lambda c, sam: assign_conversation(conversation=c, agent=sam, by=sam),
    "get_next": lambda c, sam: get_next(agent=sam),
    "add_note": lambda c, sam: add_note(conversation=c, author=sam, text="Checked the line"),
    "change_priority": lambda c, sam: change_priority(conversation=c, priority=Priority.LOW, by=sam),
    "set_labels": lambda c, sam: set_labels(conversation=c, labels=[Label.objects.create(name="router")], by=sam),
    "reply": lambda c, sam: reply(conversation=c, text="We are on it", private=False, by=sam),
    "retry_reply": lambda c, sam: retry_reply(message=failed_reply(c), by=sam),
    "correct_message": lambda c, sam: correct_message(
        message=c.messages.get(), message_type="question", sentiment="positive", by=sam
    ),
    "triage_messages": lambda c, sam: triage_messages(message_ids=list(c.messages.values_list("pk", flat=True))),
}


@pytest.mark.parametrize("verb", VERBS)
def test_each_verb_sends_the_row_to_the_streams_that_may_see_it(verb, sam, capture_pushes):
    conversation = make_conversation("service", text="Router dead, complaint")
    if verb != "triage_messages":
        conversation = triaged(conversation)
    with capture_pushes() as pushes:
        VERBS[verb](conversation, sam)
    sent = pushes.of(conversation.pk)
    assert {(service_stream(), "row"), (live.ALL, "row")} <= sent
    assert not {stream for stream, _ in sent} & {pr_stream()}
    assert not any(kind == "gone" for _, kind in sent)


def test_the_snooze_wake_up_sends_the_row(sam, capture_pushes):
    conversation = make_conversation("service", status="snoozed", snoozed_until=timezone.now() - timedelta(minutes=1))
    with capture_pushes() as pushes:
        assert wake_snoozed() == 1
    assert (service_stream(), "row") in pushes.of(conversation.pk)


def test_a_reply_delivered_later_sends_the_row(sam, capture_pushes):
    conversation = make_conversation("service", channel=make_channel("api", kind=Channel.Kind.WEBHOOK))  # sandboxed
    queued = Message.objects.create(
        channel=conversation.channel, conversation=conversation, direction="out", text="On it",
        posted_at=conversation.created_at, delivery=Message.Delivery.QUEUED,
    )  # fmt: skip
    with capture_pushes() as pushes:
        assert deliver(message_id=queued.pk) == "sent", Message.objects.get(pk=queued.pk).delivery_error
    assert (service_stream(), "row") in pushes.of(conversation.pk)


def test_the_audit_trail_alone_publishes_nothing(sam, capture_pushes):
    conversation = make_conversation("service")
    with capture_pushes() as pushes:
        record_event(kind=Event.Kind.STATUS_CHANGED, actor=sam, conversation=conversation, old="new", new="open")
    assert pushes == []
    assert Event.objects.filter(conversation=conversation, kind=Event.Kind.STATUS_CHANGED).exists()


def test_a_move_to_another_queue_tells_the_old_queue_it_is_gone(sam, capture_pushes):
    conversation = make_conversation("service")
    with capture_pushes() as pushes:
        change_queue(conversation=conversation, queue=Queue.objects.get(slug="pr"), by=sam)
    assert pushes.of(conversation.pk) == {(service_stream(), "gone"), (pr_stream(), "row"), (live.ALL, "row")}


def test_unassigning_tells_the_agents_own_stream_it_is_gone(sam, capture_pushes):
    conversation = make_conversation("service", assignee=sam, status="open")
    with capture_pushes() as pushes:
        assign_conversation(conversation=conversation, agent=None, by=sam)
    assert pushes.of(conversation.pk) == {
        (live.user_group(sam.pk), "gone"),
        (service_stream(), "row"),
        (live.ALL, "row"),
    }


def test_two_changes_in_one_transaction_send_one_row_per_stream(sam, capture_pushes):
    conversation = make_conversation("service")
    with capture_pushes() as pushes, transaction.atomic():
        assign_conversation(conversation=conversation, agent=sam, by=sam)
        change_priority(conversation=conversation, priority=Priority.URGENT, by=sam)
    rows = [(push.stream, push.kind) for push in pushes if push.conversation == conversation.pk]
    assert sorted(rows) == sorted([(live.ALL, "row"), (service_stream(), "row"), (live.user_group(sam.pk), "row")])


def test_a_change_rolled_back_sends_nothing(sam, capture_pushes):
    conversation = make_conversation("service")
    with capture_pushes() as pushes, pytest.raises(ValueError), transaction.atomic():
        change_status(conversation=conversation, status="resolved", by=sam)
        raise ValueError("the request failed after the change")
    assert pushes == []
    assert Conversation.objects.get(pk=conversation.pk).status == "new"


def test_counts_go_to_the_queue_and_supervisors_and_mine_to_the_person_alone(sam, capture_pushes):
    conversation = make_conversation("service", text="Router dead")
    with capture_pushes() as pushes:
        triaged(conversation)
    everyone = {"count-service-new": 1, "count-service-open": 0, "count-service-overdue": 0}
    assert pushes.counts(service_stream()) == pushes.counts(live.ALL) == everyone
    assert pushes.counts(pr_stream()) == {}

    with capture_pushes() as pushes:
        assign_conversation(conversation=conversation, agent=sam, by=sam)
        change_status(conversation=conversation, status="resolved", by=sam)
    everyone = {"count-service-new": 0, "count-service-open": 0, "count-service-overdue": 0}
    assert pushes.counts(service_stream()) == pushes.counts(live.ALL) == everyone
    assert pushes.counts(live.user_group(sam.pk)) == {"count-service-mine": 0}  # Sam's own, assigned then resolved


def test_a_move_sends_both_queues_counts_to_supervisors_and_each_queue_its_own(sam, capture_pushes):
    conversation = make_conversation("service", status="open")
    with capture_pushes() as pushes:
        change_queue(conversation=conversation, queue=Queue.objects.get(slug="pr"), by=sam)
    assert pushes.counts(service_stream()) == {
        "count-service-new": 0,
        "count-service-open": 0,
        "count-service-overdue": 0,
    }
    assert pushes.counts(pr_stream()) == {"count-pr-new": 0, "count-pr-open": 1, "count-pr-overdue": 0}
    assert pushes.counts(live.ALL) == pushes.counts(service_stream()) | pushes.counts(pr_stream())


def test_mine_counts_name_only_queues_the_person_saw_the_conversation_in(sam, capture_pushes):
    pia = make_user("pia", role="agent", queues=("pr",))
    ours = make_conversation("service", assignee=sam, status="open")
    theirs = make_conversation("pr", assignee=pia, status="open")
    with capture_pushes() as pushes:
        live.send_on_commit([ours.pk, theirs.pk])  # one batch touching both queues
    assert pushes.counts(live.user_group(sam.pk)) == {"count-service-mine": 1}
    assert pushes.counts(live.user_group(pia.pk)) == {"count-pr-mine": 1}


def test_unassigning_yourself_sends_the_row_before_the_gone_of_the_same_publish(sam, capture_pushes):
    conversation = make_conversation("service", assignee=sam, status="open")
    with capture_pushes() as pushes:
        assign_conversation(conversation=conversation, agent=None, by=sam)
    # Sam still sees it through the service queue: his browser keeps the row (same version, row first).
    events = [push for push in pushes if push.conversation == conversation.pk]
    kinds = [push.kind for push in events]
    assert kinds.index("row") < kinds.index("gone")
    assert len({push.attrs["version"] for push in events}) == 1


def test_sequence_numbers_run_per_stream_without_gaps(sam, capture_pushes):
    conversation = make_conversation("service")
    streams = (service_stream(), live.ALL)
    before = live.current_seq(streams)  # what a browser's hello said
    with capture_pushes() as pushes:
        for priority in (Priority.LOW, Priority.HIGH, Priority.URGENT):  # three publishes, as three requests make
            Conversation.objects.filter(pk=conversation.pk).update(priority=priority)
            live.publish([conversation.pk])
    for stream in streams:  # a row and the counts, three times, each following the last one numbered
        assert [push.seq for push in pushes.to(stream)] == list(range(before[stream] + 1, before[stream] + 7))
    assert live.current_seq(streams) == {stream: before[stream] + 6 for stream in streams}


def test_a_mention_goes_to_the_person_named_only(sam, capture_pushes):
    pia = make_user("pia", role="agent", queues=("service",))
    conversation = make_conversation("service")
    with capture_pushes() as pushes:
        add_note(conversation=conversation, author=sam, text="@pia have a look <b>now</b>")
    mentions = [push for push in pushes if push.kind == "mention"]
    assert [push.stream for push in mentions] == [live.user_group(pia.pk)]
    assert "sam mentioned you on #" in mentions[0].content
