"""E-mail channels: new messages in an IMAP mailbox are stored once and threaded (recorded messages)."""

import pytest

from inbox.connectors.imap import parse_email, poll_mailbox
from inbox.models import Channel, Conversation, Message
from tests.factories import make_channel
from tests.inbox.connectors.mailbox import RecordedMailbox, eml


@pytest.fixture
def support(db):
    channel = make_channel("support-email", network="email", kind="email")
    channel.config = {"host": "imap.kestrel.example", "username": "support"}
    channel.save()
    return channel


def test_a_new_e_mail_becomes_a_private_mention_with_its_subject(support):
    mailbox = RecordedMailbox({101: eml("question.eml")})

    result = poll_mailbox(support, connect=lambda channel: mailbox)

    assert (result.status, result.accepted) == ("fetched", 1)
    message = Message.objects.get()
    assert message.external_id == "<CAF8x2Q9kLm@mail.example>"
    assert message.is_private
    assert "I was charged £74 for one day in Spain." in message.text
    assert message.author.external_id == "dana.scully@mail.example"
    assert message.author.customer.email == "dana.scully@mail.example"
    assert message.conversation.subject == "Roaming charges \u2013 account KM-100231"
    assert "Message-ID: <CAF8x2Q9kLm@mail.example>" in message.raw_payload["rfc822"]
    assert mailbox.logged_out


def test_only_messages_after_the_last_seen_uid_are_fetched(support):
    mailbox = RecordedMailbox({101: eml("question.eml")})
    poll_mailbox(support, connect=lambda channel: mailbox)
    support.refresh_from_db()

    mailbox.messages[102] = eml("reply.eml")
    poll_mailbox(support, connect=lambda channel: mailbox)

    assert mailbox.fetched == ["101", "102"]
    assert Message.objects.count() == 2
    support.refresh_from_db()
    assert support.mailbox_last_uid == 102


def test_a_reply_threads_by_references_and_html_becomes_text(support):
    mailbox = RecordedMailbox({101: eml("question.eml"), 102: eml("reply.eml")})

    poll_mailbox(support, connect=lambda channel: mailbox)

    reply = Message.objects.get(external_id="<CAF8x2Q9zzz@mail.example>")
    assert reply.in_reply_to_external_id == "<reply-from-agent-17@kestrel.example>"
    assert reply.text == "Thanks, that worked! alert(1)"
    assert Conversation.objects.count() == 1  # the same customer's open conversation


def test_a_renumbered_mailbox_starts_over_without_storing_twice(support):
    poll_mailbox(support, connect=lambda channel: RecordedMailbox({101: eml("question.eml")}))
    support.refresh_from_db()

    result = poll_mailbox(support, connect=lambda channel: RecordedMailbox({5: eml("question.eml")}, uidvalidity=8))

    assert (result.accepted, result.duplicates) == (0, 1)
    assert Message.objects.count() == 1
    support.refresh_from_db()
    assert (support.mailbox_uidvalidity, support.mailbox_last_uid) == (8, 5)


def test_the_last_seen_uid_is_kept_beside_the_config_an_admin_edits_meanwhile(support):
    mailbox = RecordedMailbox({101: eml("question.eml"), 102: eml("reply.eml")})
    edited = {"host": "imap.kestrel.example", "username": "support", "poll_seconds": 120}
    fetch = mailbox.uid

    def admin_saves_during_the_poll(command, *args):
        Channel.objects.filter(pk=support.pk).update(config=edited)
        return fetch(command, *args)

    mailbox.uid = admin_saves_during_the_poll
    poll_mailbox(support, connect=lambda channel: mailbox)

    support.refresh_from_db()
    assert support.config == edited
    assert (support.mailbox_uidvalidity, support.mailbox_last_uid) == (7, 102)
    assert support.last_polled_at is not None and support.last_poll_error == ""


def test_a_message_without_a_sender_is_skipped(support):
    result = poll_mailbox(support, connect=lambda channel: RecordedMailbox({1: eml("no_sender.eml")}))

    assert result.status == "fetched" and result.accepted == 0
    assert not Message.objects.exists()


def test_a_failed_login_is_recorded(support):
    def refuse(channel):
        raise OSError("Connection refused")

    result = poll_mailbox(support, connect=refuse)

    support.refresh_from_db()
    assert result.status == "error"
    assert "Could not log in" in support.last_poll_error


def test_garbage_bytes_do_not_break_parsing():
    mention = parse_email(b"From: x@y.example\r\nMessage-ID: <a@b>\r\n\r\n\x00\xff\xfe body", fallback_id="imap-1-1")
    assert mention is not None and "\x00" not in mention.text


def test_a_message_over_10_mb_is_skipped_without_fetching_it(support):
    mailbox = RecordedMailbox({101: eml("question.eml"), 102: eml("reply.eml")})
    mailbox.sizes[101] = 60 * 1024 * 1024

    result = poll_mailbox(support, connect=lambda channel: mailbox)

    assert mailbox.fetched == ["102"]
    assert result.accepted == 1
    support.refresh_from_db()
    assert support.mailbox_last_uid == 102  # and it is not asked for again
