"""E-mail: an IMAP mailbox per channel, polled for new messages by UID.

The channel's `config` holds `host`, `port` (993), `username`, `mailbox` ("INBOX") and `use_ssl`
(true); its secret `password` logs in. The poller keeps the mailbox's UIDVALIDITY and last seen UID
in the channel's columns `mailbox_uidvalidity` and `mailbox_last_uid` (never in `config`),
advancing them after each stored batch, so a poll that dies half-way resumes where it stopped.
The Message-ID is the external id; In-Reply-To, else the last of References, threads replies.
"""

import contextlib
import email
import email.errors
import email.header
import email.policy
import email.utils
import imaplib
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime

from django.utils import timezone

from inbox.connectors.polling import PollResult, html_to_text, ingest_each_if_need_be, record_poll, save_poll_state
from inbox.mentions import FUTURE_TOLERANCE, IncomingAuthor, IncomingMention, network_text, single_line
from inbox.models import Channel, SecretsUnreadable

logger = logging.getLogger(__name__)

FETCH_CHUNK = 20
MAX_MESSAGE_BYTES = 10 * 1024 * 1024
TIMEOUT_SECONDS = 30
MAX_RAW_CHARS = 1_000_000
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


def poll_mailbox(channel: Channel, *, connect: Callable[[Channel], imaplib.IMAP4] | None = None) -> PollResult:
    """Fetch the mailbox's messages newer than the last seen UID and ingest them."""
    connect = connect or _connect
    accepted = duplicates = 0
    try:
        imap = connect(channel)
    except (OSError, imaplib.IMAP4.error, SecretsUnreadable) as problem:
        return record_poll(channel, PollResult("error", error=f"Could not log in to the mailbox: {problem}"))
    try:
        status, _ = imap.select(channel.config.get("mailbox") or "INBOX", readonly=True)
        if status != "OK":
            return record_poll(channel, PollResult("error", error="The mailbox could not be opened."))
        _, validity = imap.response("UIDVALIDITY")
        uidvalidity = int(validity[0]) if validity and validity[0] else 0
        last_uid = channel.mailbox_last_uid
        if uidvalidity != channel.mailbox_uidvalidity:
            last_uid = 0  # the server renumbered the mailbox: start over; duplicates are skipped
        _, found = imap.uid("SEARCH", None, f"UID {last_uid + 1}:*")
        uids = sorted(uid for uid in (int(x) for x in (found[0] or b"").split()) if uid > last_uid)
        for start in range(0, len(uids), FETCH_CHUNK):
            chunk = uids[start : start + FETCH_CHUNK]
            wanted = _small_enough(imap, chunk, channel=channel)
            _, data = imap.uid("FETCH", ",".join(map(str, wanted)), "(UID RFC822)") if wanted else ("OK", [])
            mentions = [
                mention
                for uid, raw in _fetched(data)
                if (mention := parse_email(raw, fallback_id=f"imap-{uidvalidity}-{uid}")) is not None
            ]
            if mentions:
                result = ingest_each_if_need_be(channel, mentions)
                accepted, duplicates = accepted + result.accepted, duplicates + result.duplicates
            save_poll_state(channel, mailbox_uidvalidity=uidvalidity, mailbox_last_uid=chunk[-1])
    except (OSError, imaplib.IMAP4.error) as problem:
        return record_poll(
            channel, PollResult("error", accepted, duplicates, f"The mailbox failed mid-poll: {problem}")
        )
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            imap.logout()
    return record_poll(channel, PollResult("fetched", accepted, duplicates))


def parse_email(raw: bytes, *, fallback_id: str) -> IncomingMention | None:
    """One RFC 822 message as a private mention: sender, subject, plain-text body, threading ids."""
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        name, address = _sender(message)
        message_ids = _MESSAGE_ID.findall(str(message.get("Message-ID", "")))
        in_reply_to = (
            _MESSAGE_ID.findall(str(message.get("In-Reply-To", "")))
            or _MESSAGE_ID.findall(str(message.get("References", "")))[-1:]
        )
        subject = single_line(str(message.get("Subject", "")), max_length=255)
        body = _body(message)
        posted_at = _date(message.get("Date"))
    except Exception:  # a malformed message must not stop the mailbox
        logger.exception("e-mail %s could not be parsed; skipped", fallback_id)
        return None
    if not address or "@" not in address or len(address) > 254:
        logger.warning("e-mail %s has no sender address; skipped", fallback_id)
        return None
    return IncomingMention(
        external_id=network_text(message_ids[0] if message_ids else fallback_id, max_length=255),
        text=network_text(body or subject or "(no text)"),
        subject=subject,
        author=IncomingAuthor(
            external_id=address.lower(), name=single_line(name, max_length=255), email=address.lower()
        ),
        in_reply_to=network_text(in_reply_to[0], max_length=255) if in_reply_to else "",
        posted_at=posted_at,
        private=True,
        raw={"rfc822": raw.decode("utf-8", "replace").replace("\x00", "")[:MAX_RAW_CHARS]},
    )


def _sender(message) -> tuple[str, str]:
    """The From header's display name and address.

    Python's header parser refuses a whole From header whose display name decodes to CR or LF (it
    raises ValueError), which would skip the e-mail. Such a header is read from its raw text instead:
    the address is found first, and only then is the name decoded, so a name that decodes to
    "<someone@else>" stays a name.
    """
    try:
        return email.utils.parseaddr(str(message.get("From", "")))
    except Exception:  # the parser's refusals are ValueErrors; any other slip of it must not lose the e-mail
        raw = next((str(value) for key, value in message.raw_items() if key.lower() == "from"), "")
        name, address = email.utils.parseaddr(raw)
        # An unknown charset or a broken encoding keeps the name as written.
        with contextlib.suppress(LookupError, UnicodeError, email.errors.HeaderParseError):
            name = str(email.header.make_header(email.header.decode_header(name)))
        return name, address


def _body(message) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    if part.get_content_type() == "text/html":
        return html_to_text(content)
    return network_text(content).strip()


def _date(header) -> datetime | None:
    if not header:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(str(header))
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    now = timezone.now()
    return now if moment > now + FUTURE_TOLERANCE else moment


def _small_enough(imap: imaplib.IMAP4, uids: list[int], *, channel: Channel) -> list[int]:
    """The UIDs whose messages are at most MAX_MESSAGE_BYTES, asked of the server before fetching them."""
    _, data = imap.uid("FETCH", ",".join(map(str, uids)), "(UID RFC822.SIZE)")
    sizes = {}
    for item in data:
        line = item[0] if isinstance(item, tuple) else item
        uid, size = re.search(rb"UID (\d+)", line or b""), re.search(rb"RFC822\.SIZE (\d+)", line or b"")
        if uid and size:
            sizes[int(uid.group(1))] = int(size.group(1))
    for uid in uids:
        if sizes.get(uid, 0) > MAX_MESSAGE_BYTES:
            logger.warning("channel %s: skipped e-mail UID %s of %s bytes (over 10 MB)", channel.slug, uid, sizes[uid])
    return [uid for uid in uids if sizes.get(uid, 0) <= MAX_MESSAGE_BYTES]


def _fetched(data: list) -> list[tuple[int, bytes]]:
    """(uid, raw message) pairs from an IMAP FETCH answer."""
    pairs = []
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            match = re.search(rb"UID (\d+)", item[0])
            if match:
                pairs.append((int(match.group(1)), item[1]))
    return pairs


def _connect(channel: Channel) -> imaplib.IMAP4:
    config = channel.config
    host, port = config.get("host", ""), int(config.get("port") or 993)
    if not host or not config.get("username"):
        raise imaplib.IMAP4.error("the channel's config needs host and username")
    password = channel.secret("password") or ""  # before connecting: unreadable secrets need no connection
    if config.get("use_ssl", True):
        imap = imaplib.IMAP4_SSL(host, port, timeout=TIMEOUT_SECONDS)
    else:
        imap = imaplib.IMAP4(host, port, timeout=TIMEOUT_SECONDS)
    imap.login(config["username"], password)
    return imap
