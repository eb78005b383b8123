"""Replies going out: whatever fails, a reply ends sent or failed with a reason; none goes out twice.

Hardening issue, finding 4 ("a reply stuck 'queued' forever") and the fault "outbound replies are
sent once". The platforms are simulated at their edge (an httpx transport, a mail backend); a
worker killed mid-send is an exception no handler of ours catches, raised after the platform took
the reply.
"""

import json
import logging
import uuid
from datetime import datetime, timedelta

import httpx
import pytest
from django.core import mail
from django.core.mail.backends import locmem
from django.core.mail.message import sanitize_address
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.utils import timezone

from inbox import live
from inbox.connectors.imap import parse_email, poll_mailbox
from inbox.models import Channel, Event, Message
from inbox.services import replies
from inbox.services.replies import deliver
from tests.factories import ensure_migrated_data, make_channel, make_user
from tests.helpers import FIXTURES, HX, conversation_on, queued_reply, run_concurrently
from tests.inbox.connectors.mailbox import RecordedMailbox, eml

pytestmark = pytest.mark.django_db


class WorkerKilled(BaseException):
    """A worker killed (SIGKILL, OOM, a deploy) as seen from inside it: no handler of ours runs after it."""


class MailBackendCheckingAddresses(locmem.EmailBackend):
    """Checks each recipient as Django's SMTP backend does before it speaks to the server (locmem does not)."""

    def send_messages(self, messages):
        for message in messages:
            for address in message.recipients():
                sanitize_address(address, message.encoding or "utf-8")
        return super().send_messages(messages)


class MailServerAcceptsThenWorkerDies(locmem.EmailBackend):
    """The mail server takes the message; the worker dies before it hears so."""

    def send_messages(self, messages):
        super().send_messages(messages)
        raise WorkerKilled


def recording(name: str) -> httpx.Response:
    fixture = json.loads((FIXTURES / "replies" / f"{name}.json").read_text())
    return httpx.Response(fixture["status"], json=fixture["body"])


def platform(answer_with: str | None, calls: list, *, then: BaseException | None = None) -> httpx.Client:
    """The network's API: each request is counted, then answered from a recording or `then` is raised."""

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if then is not None:
            raise then
        return recording(answer_with)

    return httpx.Client(transport=httpx.MockTransport(answer))


def email_conversation(subject: str = "My bill", address: str = "dana@example.com"):
    conversation = conversation_on(Channel.Kind.EMAIL, "email")
    conversation.subject = subject
    conversation.save(update_fields=["subject"])
    conversation.customer.email = address
    conversation.customer.save()
    Message.objects.filter(conversation=conversation).update(external_id="<abc@mail.example>")
    return conversation


@pytest.fixture
def mailbox(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return mail.outbox


@pytest.fixture
def strict_mailbox(settings):
    settings.EMAIL_BACKEND = f"{__name__}.MailBackendCheckingAddresses"
    return mail.outbox


@pytest.fixture
def published(monkeypatch):
    """The conversations whose live event went out (inside django_capture_on_commit_callbacks(execute=True))."""
    ids = []
    monkeypatch.setattr(live, "publish", lambda conversation_ids, before=None: ids.extend(conversation_ids) or 0)
    return ids


def later(delta: timedelta) -> datetime:
    return timezone.now() + delta + timedelta(seconds=1)


# Finding 4: a reply stuck "queued" forever.


INJECTED = "Re: Refund please Bcc: all-staff@kestrel.example"


@pytest.mark.parametrize(
    ("subject", "sent_as"),
    [
        ("Refund please\r\nBcc: all-staff@kestrel.example", INJECTED),
        ("Refund please\nBcc: all-staff@kestrel.example", INJECTED),
        ("Refund please\rBcc: all-staff@kestrel.example", INJECTED),
        ("Refund please\x0b\x1c\x85\u2028\tBcc: all-staff@kestrel.example", INJECTED),
        # As long as a subject is stored, non-ASCII, with a line break in the middle.
        ("Refund please " + "é" * 120 + "\r\n" + "x" * 118, "Re: Refund please " + "é" * 120 + " " + "x" * 118),
    ],
    ids=["crlf", "lf", "cr", "other-control-characters", "long-with-crlf"],
)
def test_subject_with_crlf_still_sends_the_reply(agent_in_service_queue, mailbox, subject, sent_as):
    conversation = email_conversation(subject)
    message = queued_reply(conversation, agent_in_service_queue)

    assert deliver(message_id=message.pk) == "sent"

    (sent,) = mailbox
    assert sent.subject == sent_as
    rendered = sent.message().as_bytes()
    head = rendered.split(b"\n\n", 1)[0]
    assert b"\nBcc:" not in head and b"\rBcc:" not in head  # no header was injected
    assert max(len(line) for line in rendered.split(b"\n")) <= 998  # RFC 5322's line limit
    assert Message.objects.get(pk=message.pk).external_id == sent.extra_headers["Message-ID"]


@pytest.mark.parametrize(
    ("break_it", "reason"),
    [
        # The mail library refuses the customer's address (a ValueError, not a SendError).
        ("customer address", 'Invalid address "dana@@mail.example"'),
        # An admin's From address with a line break (BadHeaderError).
        ("from address", "newlines"),
        # Something nobody foresaw, raised by the network client.
        ("unexpected", "RuntimeError"),
    ],
)
def test_any_failure_of_a_send_ends_failed_with_a_reason_never_queued(
    agent_in_service_queue,
    agent_client,
    strict_mailbox,
    published,
    django_capture_on_commit_callbacks,
    caplog,
    break_it,
    reason,
):
    if break_it == "unexpected":
        conversation = conversation_on(Channel.Kind.X, "x", user_access_token="t")
        client = platform(None, [], then=RuntimeError("the TLS library fell over"))
    else:
        conversation = email_conversation(address="dana@@mail.example" if break_it == "customer address" else "d@x.io")
        if break_it == "from address":
            conversation.channel.config = {"from_address": "support@kestrel.example\nBcc: x@y.example"}
            conversation.channel.save()
        client = None
    message = queued_reply(conversation, agent_in_service_queue)

    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        assert deliver(message_id=message.pk, client=client) == "failed"

    message.refresh_from_db()
    assert message.delivery == "failed" and reason in message.delivery_error
    assert conversation.pk in published  # the pane hears of it
    logged = [record for record in caplog.records if record.exc_info]
    assert len(logged) == 1 and str(message.pk) in logged[0].getMessage()
    page = agent_client.get(f"/inbox/conversations/{conversation.pk}/").content.decode()
    assert "Send again" in page


def test_a_reply_whose_task_was_lost_is_sent_by_the_sweep(
    agent_in_service_queue, mailbox, django_capture_on_commit_callbacks
):
    conversation = email_conversation()
    message = queued_reply(conversation, agent_in_service_queue)  # its task never runs (nothing commits here)

    with django_capture_on_commit_callbacks(execute=True):
        assert replies.sweep_stuck_replies(now=timezone.now()) == 0  # not late yet: left to its task
    assert mailbox == []

    with django_capture_on_commit_callbacks(execute=True):  # the task it enqueues runs in-process
        assert replies.sweep_stuck_replies(now=later(replies.QUEUED_TOO_LONG)) == 1

    message.refresh_from_db()
    assert message.delivery == "sent" and len(mailbox) == 1


def test_a_reply_queued_with_no_tries_left_is_failed_by_the_sweep(
    agent_in_service_queue, published, django_capture_on_commit_callbacks
):
    conversation = conversation_on(Channel.Kind.X, "x", user_access_token="t")
    message = queued_reply(conversation, agent_in_service_queue)
    Message.objects.filter(pk=message.pk).update(delivery_attempts=replies.DELIVERY_ATTEMPTS)

    with django_capture_on_commit_callbacks(execute=True):
        assert replies.sweep_stuck_replies(now=later(replies.QUEUED_TOO_LONG)) == 1

    message.refresh_from_db()
    assert message.delivery == "failed" and f"after {replies.DELIVERY_ATTEMPTS} tries" in message.delivery_error
    assert conversation.pk in published


def test_the_sweep_is_on_the_beat_every_minute(settings):
    schedules = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedules.get("inbox.tasks.sweep_stuck_replies") == 60.0


# A From display name with CR/LF must not make the IMAP poll skip the e-mail.


@pytest.fixture
def support_mailbox(db):
    channel = make_channel("support-email", network="email", kind="email")
    channel.config = {"host": "imap.kestrel.example", "username": "support"}
    channel.save()
    return channel


def test_display_name_with_crlf_does_not_make_the_poll_skip_the_e_mail(
    support_mailbox, agent_in_service_queue, mailbox
):
    result = poll_mailbox(support_mailbox, connect=lambda channel: RecordedMailbox({7: eml("crlf_display_name.eml")}))

    assert (result.status, result.accepted) == ("fetched", 1)
    stored = Message.objects.get()
    assert stored.author.external_id == "dana.scully@mail.example"
    assert stored.author.display_name == "Dana Scully Bcc: all-staff@kestrel.example"
    assert stored.conversation.subject == "Refund please Bcc: all-staff@kestrel.example"
    assert "charged twice" in stored.text

    answer = queued_reply(stored.conversation, agent_in_service_queue, text="Refunded, sorry!")
    assert deliver(message_id=answer.pk) == "sent"
    assert mailbox[0].to == ["dana.scully@mail.example"]
    assert mailbox[0].extra_headers["In-Reply-To"] == "<CAF8x2Q9crlf@mail.example>"


def test_display_name_that_decodes_to_an_address_does_not_become_the_sender():
    mention = parse_email(eml("display_name_hiding_an_address.eml"), fallback_id="imap-1-1")

    assert mention is not None
    assert mention.author.email == "dana.scully@mail.example"
    assert mention.author.name == "<ceo@kestrel.example>"


# The fault: outbound replies are sent once.


NETWORKS = {
    "x": (Channel.Kind.X, "x", {"user_access_token": "t"}, "x_tweet_ok", "X (Twitter)"),
    "facebook": (Channel.Kind.FACEBOOK, "facebook", {"page_access_token": "t"}, "meta_comment_ok", "Facebook"),
}


@pytest.mark.parametrize("network", NETWORKS)
@pytest.mark.parametrize("reconciled_by", ["the retried task", "the sweep"])
def test_worker_killed_after_platform_accepted_does_not_send_twice(agent_in_service_queue, network, reconciled_by):
    kind, network_name, secrets, ok, label = NETWORKS[network]
    conversation = conversation_on(kind, network_name, **secrets)
    message = queued_reply(conversation, agent_in_service_queue)
    calls = []

    with pytest.raises(WorkerKilled):
        deliver(message_id=message.pk, client=platform(ok, calls, then=WorkerKilled()))
    assert len(calls) == 1  # the platform has the reply; we never heard

    # The task comes back at once (the broker redelivers it): the reply might still be on its way.
    assert deliver(message_id=message.pk, client=platform(ok, calls)) == "sending"
    assert len(calls) == 1
    # Long after any send could have ended, nobody can tell whether it arrived: a human checks.
    moment = later(replies.SEND_TIMEOUT)
    if reconciled_by == "the sweep":
        assert replies.sweep_stuck_replies(now=moment) == 1
    else:
        assert deliver(message_id=message.pk, client=platform(ok, calls), now=moment) == "failed"

    assert len(calls) == 1
    message.refresh_from_db()
    assert message.delivery == "failed"
    assert message.delivery_error == (
        f"The reply may or may not have been delivered: check on {label} before sending again."
    )


def test_worker_killed_after_the_mail_server_accepted_resends_under_the_same_message_id(
    agent_in_service_queue, mailbox, settings
):
    conversation = email_conversation()
    message = queued_reply(conversation, agent_in_service_queue)
    settings.EMAIL_BACKEND = f"{__name__}.MailServerAcceptsThenWorkerDies"

    with pytest.raises(WorkerKilled):
        deliver(message_id=message.pk)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    assert deliver(message_id=message.pk) == "sending" and len(mailbox) == 1
    assert deliver(message_id=message.pk, now=later(replies.SEND_TIMEOUT)) == "sent"

    # Sent again under the same Message-ID, by which mail systems recognise the copy as one message.
    first, second = mailbox
    assert first.extra_headers["Message-ID"] == second.extra_headers["Message-ID"]
    assert Message.objects.get(pk=message.pk).external_id == first.extra_headers["Message-ID"]


@pytest.mark.parametrize("timeout", [httpx.ReadTimeout("read"), httpx.RemoteProtocolError("gone")])
def test_a_timeout_after_the_request_went_out_does_not_send_twice(agent_in_service_queue, timeout):
    conversation = conversation_on(Channel.Kind.X, "x", user_access_token="t")
    message = queued_reply(conversation, agent_in_service_queue)
    calls = []

    assert deliver(message_id=message.pk, client=platform(None, calls, then=timeout)) == "failed"

    assert deliver(message_id=message.pk, client=platform("x_tweet_ok", calls)) == "failed"  # nothing to do
    assert len(calls) == 1
    assert "may or may not have been delivered: check on X" in Message.objects.get(pk=message.pk).delivery_error


def test_a_connection_refused_before_the_request_went_out_is_tried_again(agent_in_service_queue):
    conversation = conversation_on(Channel.Kind.X, "x", user_access_token="t")
    message = queued_reply(conversation, agent_in_service_queue)
    calls = []

    assert deliver(message_id=message.pk, client=platform(None, calls, then=httpx.ConnectError("refused"))) == "queued"
    assert deliver(message_id=message.pk, client=platform("x_tweet_ok", calls)) == "sent"


@pytest.mark.django_db(transaction=True)
def test_a_reply_is_marked_sending_and_committed_before_the_platform_is_called():
    ensure_migrated_data()
    conversation = conversation_on(Channel.Kind.X, "x", user_access_token="t")
    message = Message.objects.create(  # a reply whose task has not run yet
        channel=conversation.channel,
        conversation=conversation,
        direction="out",
        text="On it",
        in_reply_to_external_id="post-123",
        posted_at=timezone.now(),
        delivery="queued",
    )
    seen = []

    def answer(request):
        # No transaction is open (so no row lock is held) and the claim is already committed.
        seen.append((connection.in_atomic_block, Message.objects.get(pk=message.pk).delivery))
        return recording("x_tweet_ok")

    assert deliver(message_id=message.pk, client=httpx.Client(transport=httpx.MockTransport(answer))) == "sent"
    assert seen == [(False, "sending")]


def test_double_clicked_send_creates_one_reply(agent_client):
    conversation = conversation_on(Channel.Kind.X, "x", user_access_token="t")
    form = {"text": "On it!", "reply_key": str(uuid.uuid4())}
    url = f"/inbox/conversations/{conversation.pk}/reply"

    first = agent_client.post(url, form, headers=HX)
    second = agent_client.post(url, form, headers=HX)

    assert first.status_code == second.status_code == 200
    assert Message.objects.filter(direction="out").count() == 1
    assert Event.objects.filter(kind=Event.Kind.REPLY_SENT).count() == 1
    assert second.content.decode().count("On it!") == 1  # the pane shows the one reply


def test_the_reply_form_carries_a_fresh_key_and_disables_its_button_while_sending(agent_client):
    conversation = conversation_on(Channel.Kind.X, "x", user_access_token="t")

    pages = [agent_client.get(f"/inbox/conversations/{conversation.pk}/").content.decode() for _ in range(2)]

    keys = [page.split('name="reply_key" value="', 1)[1].split('"', 1)[0] for page in pages]
    assert len({uuid.UUID(key) for key in keys}) == 2  # a new one each time the form is drawn
    assert 'hx-disabled-elt="find button[type=submit]"' in pages[0]


def test_a_resent_form_with_edited_text_is_refused_rather_than_dropped(agent_client):
    conversation = conversation_on(Channel.Kind.X, "x", user_access_token="t")
    url = f"/inbox/conversations/{conversation.pk}/reply"
    key = str(uuid.uuid4())

    agent_client.post(url, {"text": "On it!", "reply_key": key}, headers=HX)
    edited = agent_client.post(url, {"text": "On it, Dana!", "reply_key": key}, headers=HX)

    assert edited.status_code == 400 and "already sent" in edited.content.decode()
    assert list(Message.objects.filter(direction="out").values_list("text", flat=True)) == ["On it!"]


@pytest.mark.parametrize("key", ["not-a-uuid", "1" * 500])
def test_a_malformed_reply_key_is_refused(agent_client, key):
    conversation = conversation_on(Channel.Kind.X, "x", user_access_token="t")

    response = agent_client.post(f"/inbox/conversations/{conversation.pk}/reply", {"text": "Hi", "reply_key": key})

    assert response.status_code == 400 and not Message.objects.filter(direction="out").exists()


def test_one_reply_per_key_in_a_conversation_is_a_database_rule(agent_in_service_queue):
    conversation = conversation_on(Channel.Kind.X, "x", user_access_token="t")
    first = queued_reply(conversation, agent_in_service_queue)

    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(
            channel=first.channel,
            conversation=conversation,
            direction="out",
            text="twice",
            posted_at=first.posted_at,
            delivery="queued",
            idempotency_key=first.idempotency_key,
        )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL (CI runs it)")
@pytest.mark.django_db(transaction=True)
def test_double_clicked_send_racing_on_two_connections_creates_one_reply():
    ensure_migrated_data()
    agent = make_user("sam", role="agent", queues=("service",))
    conversation = conversation_on(Channel.Kind.WEBHOOK, "web")  # the sandbox: its task sends nothing out
    form = {"text": "On it!", "reply_key": str(uuid.uuid4())}
    clients = [Client(), Client()]
    for client in clients:
        client.force_login(agent)
    statuses = []

    def click(client):
        return lambda: statuses.append(
            client.post(f"/inbox/conversations/{conversation.pk}/reply", form, headers=HX).status_code
        )

    errors = run_concurrently(*[click(client) for client in clients])

    assert errors == [] and statuses == [200, 200]
    assert Message.objects.filter(direction="out").count() == 1
