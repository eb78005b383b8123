"""Replies going out: whatever fails, a reply ends sent or failed with a reason; none goes out twice.

Hardening issue, finding 4 ("a reply stuck 'queued' forever") and the fault "outbound replies are
sent once".
"""

from pathlib import Path

import pytest
from django.core import mail

from inbox.connectors.imap import parse_email, poll_mailbox
from inbox.models import Channel, Message
from inbox.services import deliver
from tests.connectors.test_imap import RecordedMailbox
from tests.factories import make_channel
from tests.inbox.test_replies import conversation_on, queued_reply

pytestmark = pytest.mark.django_db
EMAIL_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "email"


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


# A From display name with CR/LF must not make the IMAP poll skip the e-mail.


@pytest.fixture
def support_mailbox(db):
    channel = make_channel("support-email", network="email", kind="email")
    channel.config = {"host": "imap.kestrel.example", "username": "support"}
    channel.save()
    return channel


def eml(name: str) -> bytes:
    return (EMAIL_FIXTURES / name).read_bytes().replace(b"\n", b"\r\n")


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
