"""The ingest service: every mention stored once, tied to its customer, threaded."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from customers.models import Customer, Identity
from inbox.models import Conversation, Event, Message
from inbox.services.conversations import change_status
from inbox.services.ingest import ingest
from tests.factories import make_channel, make_customer
from tests.helpers import mention


@pytest.fixture
def channel(db):
    return make_channel("x-main")


def test_a_new_author_becomes_a_customer_with_an_identity_and_a_new_conversation(
    channel, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        result = ingest(
            channel=channel,
            mentions=[
                mention("t1", "My bill doubled", author_fields={"handle": "@dana", "name": "Dana", "followers": 4200})
            ],
        )

    (stored,) = result.messages
    message = Message.objects.select_related("author__customer", "conversation").get(pk=stored.id)
    assert (result.accepted, result.duplicates) == (1, 0)
    assert message.author.handle == "@dana" and message.author.followers == 4200
    assert message.author.customer.name == "Dana"
    assert message.conversation.status == Conversation.Status.NEW
    assert message.conversation.snippet == "My bill doubled"
    assert message.triage_state == Message.TriageState.TRIAGED  # the triage task ran on commit (eager here)
    assert list(Event.objects.values_list("kind", flat=True)) == ["triaged", "conversation_created"]


def test_the_same_mention_twice_is_stored_once(channel):
    first = ingest(channel=channel, mentions=[mention("t1", "original")])
    again = ingest(channel=channel, mentions=[mention("t1", "edited copy"), mention("t1", "third copy")])

    assert (again.accepted, again.duplicates) == (0, 2)
    assert [m.id for m in again.messages] == [first.messages[0].id] * 2
    assert Message.objects.get().text == "original"


def test_the_same_external_id_twice_in_one_batch_keeps_the_first(channel):
    result = ingest(channel=channel, mentions=[mention("t1", "first"), mention("t1", "second")])

    assert [m.duplicate for m in result.messages] == [False, True]
    assert Message.objects.get().text == "first"


def test_a_known_identity_is_reused_and_its_profile_refreshed(channel):
    ingest(channel=channel, mentions=[mention("t1", author_fields={"handle": "@old", "followers": 10})])
    ingest(channel=channel, mentions=[mention("t2", author_fields={"handle": "@new", "followers": 99})])

    identity = Identity.objects.get()
    assert (identity.handle, identity.followers) == ("@new", 99)
    assert Customer.objects.count() == 1


def test_a_new_identity_joins_the_customer_with_the_same_email(db):
    dana = make_customer("Dana Scully", email="dana@example.com")
    facebook = make_channel("fb", network="facebook", kind="facebook")

    ingest(channel=facebook, mentions=[mention("p1", author="fb-77", author_fields={"email": "dana@example.com"})])

    assert Identity.objects.get(external_id="fb-77").customer == dana
    assert Customer.objects.count() == 1


def test_a_new_identity_joins_the_customer_with_the_same_phone(db):
    dana = make_customer("Dana Scully", phone="+447700900123")
    mail = make_channel("mail", network="email", kind="email")

    ingest(
        channel=mail, mentions=[mention("<a@b>", author="dana@else.example", author_fields={"phone": "+447700900123"})]
    )

    assert Identity.objects.get().customer == dana


def test_a_reply_joins_the_conversation_it_replies_to(channel):
    ingest(channel=channel, mentions=[mention("t1", "Outage in Leeds?", author="u1")])
    result = ingest(channel=channel, mentions=[mention("t2", "Same here", author="u2", in_reply_to="t1")])

    assert Message.objects.get(external_id="t2").conversation == Message.objects.get(external_id="t1").conversation
    assert result.messages[0].conversation_id == Message.objects.get(external_id="t1").conversation_id


def test_a_reply_to_an_earlier_mention_of_the_same_batch_joins_it(channel):
    ingest(channel=channel, mentions=[mention("t1", author="u1"), mention("t2", author="u2", in_reply_to="t1")])

    assert Conversation.objects.count() == 1


def test_an_unknown_in_reply_to_threads_like_a_new_post(channel):
    ingest(channel=channel, mentions=[mention("t1", author="u1", in_reply_to="never-seen")])

    message = Message.objects.get()
    assert message.in_reply_to_external_id == "never-seen"
    assert message.conversation.status == Conversation.Status.NEW


def test_the_authors_open_conversation_on_the_channel_is_continued(channel):
    ingest(channel=channel, mentions=[mention("t1", "first")])
    conversation = Conversation.objects.get()
    change_status(conversation=conversation, status=Conversation.Status.PENDING)

    ingest(channel=channel, mentions=[mention("t2", "second")])

    conversation.refresh_from_db()
    assert Conversation.objects.count() == 1
    assert conversation.status == Conversation.Status.OPEN  # the customer answered
    assert conversation.snippet == "second"


def test_writing_again_within_the_window_reopens_a_resolved_conversation(channel):
    ingest(channel=channel, mentions=[mention("t1")])
    conversation = Conversation.objects.get()
    change_status(conversation=conversation, status=Conversation.Status.RESOLVED)

    ingest(channel=channel, mentions=[mention("t2", "it broke again")])

    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.OPEN and conversation.resolved_at is None
    assert Event.objects.filter(kind="status_changed", data__reason="the customer wrote again").exists()


def test_writing_again_after_the_window_starts_a_new_conversation(channel):
    ingest(channel=channel, mentions=[mention("t1")])
    old = Conversation.objects.get()
    change_status(conversation=old, status=Conversation.Status.RESOLVED)
    Conversation.objects.filter(pk=old.pk).update(resolved_at=timezone.now() - timedelta(hours=73))

    ingest(channel=channel, mentions=[mention("t2")])

    assert Conversation.objects.count() == 2
    old.refresh_from_db()
    assert old.status == Conversation.Status.RESOLVED


def test_another_channel_gets_its_own_conversation(channel):
    other = make_channel("x-support")
    ingest(channel=channel, mentions=[mention("t1")])
    ingest(channel=other, mentions=[mention("t1")])  # same id, another channel: another message

    assert Message.objects.count() == 2 and Conversation.objects.count() == 2
    assert Customer.objects.count() == 1  # the same X account is the same person


def test_html_and_script_are_kept_as_text(channel):
    payload = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    ingest(channel=channel, mentions=[mention("t1", payload, author_fields={"name": payload})])

    assert Message.objects.get().text == payload
    assert Customer.objects.get().name == payload


def test_a_batch_of_1000_makes_a_bounded_number_of_queries(channel, django_assert_max_num_queries):
    # On PostgreSQL each bulk insert is one statement; SQLite caps the parameters of a statement
    # (999), so Django splits its inserts into chunks of a few dozen rows.
    limit = 25 if connection.vendor == "postgresql" else 80
    ingest(channel=channel, mentions=[mention(f"old-{n}", author=f"a{n}") for n in range(50)])
    batch = [
        mention(f"t{n}", f"mention {n}", author=f"a{n % 300}", in_reply_to="old-1" if n % 7 == 0 else "")
        for n in range(1000)
    ]

    with django_assert_max_num_queries(limit):
        result = ingest(channel=channel, mentions=batch)

    assert result.accepted == 1000
    assert Message.objects.count() == 1050


def test_a_new_conversation_starts_in_the_channels_queue_with_its_sla(channel):
    from triage.models import Queue

    service = Queue.objects.select_related("sla_policy").get(slug="service")
    channel.default_queue = service
    channel.save()

    ingest(channel=channel, mentions=[mention("t1")])

    conversation = Conversation.objects.get()
    assert conversation.queue == service
    minutes = (conversation.first_response_due_at - conversation.created_at).total_seconds() / 60
    assert minutes == service.sla_policy.first_response_minutes


def test_an_author_described_twice_in_a_batch_keeps_what_either_said(channel):
    ingest(
        channel=channel,
        mentions=[
            mention("dm1", author="u9", author_fields={"handle": "@dana", "followers": 50}),
            mention("c1", author="u9", author_fields={"name": "Dana Scully"}),  # a later event without the handle
        ],
    )

    identity = Identity.objects.get()
    assert (identity.handle, identity.display_name, identity.followers) == ("@dana", "Dana Scully", 50)


def test_a_reply_sent_after_a_repeated_parent_in_one_batch_still_threads(channel):
    ingest(
        channel=channel,
        mentions=[
            mention("parent", author="u1"),
            mention("reply", author="u2", in_reply_to="parent"),
            mention("parent", author="u1"),  # the platform repeated the parent later in the batch
        ],
    )

    assert Conversation.objects.count() == 1
