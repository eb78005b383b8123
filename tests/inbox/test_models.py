from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from inbox.models import ALLOWED_STATUS_TRANSITIONS, Conversation, Event, InvalidTransition, Message, Status
from inbox.services.conversations import change_status
from tests.factories import make_channel, make_conversation, make_user


@pytest.mark.django_db
def test_a_message_is_stored_once_per_channel_and_external_id():
    conversation = make_conversation()
    original = conversation.messages.get()

    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(
            channel=original.channel,
            conversation=conversation,
            external_id=original.external_id,
            text="a second copy",
            posted_at=timezone.now(),
        )

    other_channel = make_channel("facebook-page", network="facebook", kind="facebook")
    Message.objects.create(
        channel=other_channel,
        conversation=conversation,
        external_id=original.external_id,
        text="same id, other network",
        posted_at=timezone.now(),
    )
    assert Message.objects.filter(external_id=original.external_id).count() == 2
    assert Message.objects.get(pk=original.pk).text == original.text


@pytest.mark.django_db
def test_replies_not_yet_sent_have_no_external_id_and_do_not_collide():
    conversation = make_conversation()
    for text in ("first draft", "second draft"):
        Message.objects.create(
            channel=conversation.channel,
            conversation=conversation,
            direction="out",
            delivery="queued",
            text=text,
            posted_at=timezone.now(),
        )
    assert conversation.messages.filter(external_id__isnull=True).count() == 2


@pytest.mark.django_db
def test_only_replies_have_a_delivery_state():
    conversation = make_conversation()
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(
            channel=conversation.channel,
            conversation=conversation,
            direction="in",
            delivery="sent",
            text="inbound",
            posted_at=timezone.now(),
            external_id="x1",
        )


ALL_PAIRS = [(old, new) for old in Status.values for new in Status.values if old != new]


@pytest.mark.django_db
@pytest.mark.parametrize(("old", "new"), ALL_PAIRS)
def test_status_changes_follow_the_allowed_transitions(old, new):
    conversation = make_conversation(status=old)
    agent = make_user(role="agent", queues=("service",))
    wake = timezone.now() + timedelta(hours=1)

    if new in ALLOWED_STATUS_TRANSITIONS[old]:
        change_status(conversation=conversation, status=new, by=agent, snoozed_until=wake)
        conversation.refresh_from_db()
        assert conversation.status == new
        event = Event.objects.get(conversation=conversation, kind=Event.Kind.STATUS_CHANGED)
        assert (event.actor, event.data["old"], event.data["new"]) == (agent, old, new)
    else:
        with pytest.raises(InvalidTransition):
            change_status(conversation=conversation, status=new, by=agent, snoozed_until=wake)
        conversation.refresh_from_db()
        assert conversation.status == old
        assert not Event.objects.filter(kind=Event.Kind.STATUS_CHANGED).exists()


@pytest.mark.django_db
def test_resolving_stamps_the_time_and_reopening_clears_it():
    conversation = make_conversation(status=Status.OPEN)

    change_status(conversation=conversation, status=Status.RESOLVED)
    conversation.refresh_from_db()
    assert conversation.resolved_at is not None

    change_status(conversation=conversation, status=Status.OPEN)
    conversation.refresh_from_db()
    assert conversation.resolved_at is None


@pytest.mark.django_db
def test_snoozing_needs_a_wake_up_time_in_the_future():
    conversation = make_conversation(status=Status.OPEN)

    for wake in (None, timezone.now() - timedelta(minutes=1)):
        with pytest.raises(InvalidTransition, match="future"):
            change_status(conversation=conversation, status=Status.SNOOZED, snoozed_until=wake)
    conversation.refresh_from_db()
    assert (conversation.status, conversation.snoozed_until) == (Status.OPEN, None)

    wake = timezone.now() + timedelta(hours=3)
    change_status(conversation=conversation, status=Status.SNOOZED, snoozed_until=wake)
    conversation.refresh_from_db()
    assert conversation.snoozed_until == wake


@pytest.mark.django_db
def test_an_unknown_status_is_refused():
    conversation = make_conversation()
    with pytest.raises(InvalidTransition, match="not a conversation status"):
        change_status(conversation=conversation, status="deleted")


@pytest.mark.django_db
def test_the_database_refuses_a_snoozed_conversation_without_a_wake_up_time():
    conversation = make_conversation()
    with pytest.raises(IntegrityError), transaction.atomic():
        Conversation.objects.filter(pk=conversation.pk).update(status=Status.SNOOZED, snoozed_until=None)
