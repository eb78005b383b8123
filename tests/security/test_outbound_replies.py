"""Replies going out: whatever fails, a reply ends sent or failed with a reason; none goes out twice.

Hardening issue, finding 4 ("a reply stuck 'queued' forever") and the fault "outbound replies are
sent once".
"""

from pathlib import Path

import pytest
from django.core import mail

from inbox.connectors.imap import parse_email, poll_mailbox
from inbox.models import Message
from inbox.services import deliver
from tests.connectors.test_imap import RecordedMailbox
from tests.factories import make_channel
from tests.inbox.test_replies import queued_reply

pytestmark = pytest.mark.django_db
EMAIL_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "email"


@pytest.fixture
def mailbox(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return mail.outbox


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
