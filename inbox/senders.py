"""Replies going out: one adapter per network, chosen by the channel's kind.

Each adapter sends one outbound Message and returns the network's id for it, or raises SendError
saying whether trying again could help (a refused connection, 429 and 5xx can; a 4xx the platform
explains cannot) and whether the network may have the reply all the same (a request that went out
and got no answer). Channels with no way to answer (generic webhooks, feeds), and any channel whose
config says `"sandbox": true`, use the sandbox: it records what it would have sent and sends nothing.

Sending a reply twice is harmless only where the network can tell the copies apart from new
replies: an e-mail is sent again under the same Message-ID, which mail systems use to show one
message, and the sandbox sends nothing. Meta and X take no idempotency key; there a reply that may
have gone out is never sent again without a person looking (see inbox.services.deliver).
"""

from dataclasses import dataclass

import httpx
from django.conf import settings
from django.core.mail import EmailMessage

from inbox.mentions import single_line
from inbox.models import Channel, Conversation, Message, SecretMissing, SecretsUnreadable

TIMEOUT = httpx.Timeout(15.0, connect=5.0)
GRAPH_URL = "https://graph.facebook.com/v21.0"
X_URL = "https://api.x.com/2"
# What each network accepts in one reply (characters); the reply box counts down from it.
LENGTH_LIMITS = {"x": 280, "instagram": 2200, "facebook": 8000, "email": 100_000}
DEFAULT_LENGTH_LIMIT = 10_000
SUBJECT_MAX_LENGTH = Conversation._meta.get_field("subject").max_length


class SendError(Exception):
    """The reply did not go out (or, with maybe_delivered, perhaps did), for a reason an agent can read."""

    def __init__(self, reason: str, *, retryable: bool, maybe_delivered: bool = False):
        super().__init__(reason)
        self.reason, self.retryable, self.maybe_delivered = reason[:500], retryable, maybe_delivered


@dataclass(frozen=True)
class Sent:
    external_id: str


def length_limit(channel: Channel) -> int:
    return LENGTH_LIMITS.get(channel.network, DEFAULT_LENGTH_LIMIT)


def send(message: Message, *, client: httpx.Client | None = None) -> Sent:
    """Send one outbound reply on its conversation's channel."""
    channel = message.channel
    if _uses_sandbox(channel):
        return _sandbox(message)
    if channel.kind == Channel.Kind.EMAIL:
        return _email(message)
    try:
        with client or httpx.Client(timeout=TIMEOUT, follow_redirects=False) as http:
            if channel.kind in (Channel.Kind.FACEBOOK, Channel.Kind.INSTAGRAM):
                return _meta(message, http)
            if channel.kind == Channel.Kind.X:
                return _x(message, http)
    except (SecretsUnreadable, SecretMissing) as problem:
        # Before anything went out: an admin must act, so trying again cannot help.
        raise SendError(str(problem), retryable=False) from None
    raise SendError(f"No way to reply on a {channel.get_kind_display()} channel.", retryable=False)


def resending_is_harmless(channel: Channel) -> bool:
    """Whether sending a reply again, when the network may already have it, makes no second copy."""
    return _uses_sandbox(channel) or channel.kind == Channel.Kind.EMAIL


def unknown_outcome(channel: Channel) -> str:
    """What a failed reply says when the network may have it all the same."""
    return (
        f"The reply may or may not have been delivered: check on {channel.get_network_display()} before sending again."
    )


def _uses_sandbox(channel: Channel) -> bool:
    return bool(channel.config.get("sandbox")) or channel.kind in (Channel.Kind.WEBHOOK, Channel.Kind.RSS)


def _recipient(message: Message) -> str:
    """The customer's id on the network: the author of the latest message from them in the conversation."""
    inbound = (
        Message.objects.filter(conversation_id=message.conversation_id, direction=Message.Direction.INBOUND)
        .exclude(author__isnull=True)
        .select_related("author")
        .order_by("-posted_at", "-pk")
        .first()
    )
    if inbound is None:
        raise SendError("The conversation has no message from the customer to answer.", retryable=False)
    return inbound.author.external_id


# Failures that happen before the request leaves: the network cannot have the reply.
_NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
)


def _post(http: httpx.Client, url: str, *, token: str, payload: dict) -> dict:
    try:
        response = http.post(url, json=payload, headers={"Authorization": f"Bearer {token}"})
    except _NOT_SENT as problem:
        raise SendError(f"Could not reach the network ({type(problem).__name__}).", retryable=True) from problem
    except httpx.TimeoutException as problem:  # the request went out; the answer did not come
        raise SendError(
            f"The network did not answer in time ({type(problem).__name__}).", retryable=True, maybe_delivered=True
        ) from problem
    except httpx.HTTPError as problem:  # the connection broke after the request went out
        raise SendError(
            f"The connection to the network broke ({type(problem).__name__}).", retryable=True, maybe_delivered=True
        ) from problem
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code == 429 or response.status_code >= 500:
        raise SendError(f"The network answered {response.status_code}; trying again later.", retryable=True)
    if response.status_code >= 400:
        raise SendError(f"The network refused the reply ({response.status_code}): {_reason(body)}", retryable=False)
    return body if isinstance(body, dict) else {}


def _reason(body) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        for key in ("detail", "title"):
            if body.get(key):
                return str(body[key])
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("message") or errors[0].get("detail") or errors[0])
    return "no reason given"


def _meta(message: Message, http: httpx.Client) -> Sent:
    token = message.channel.secret("page_access_token", required=True)
    if message.is_private:
        body = _post(
            http,
            f"{GRAPH_URL}/me/messages",
            token=token,
            payload={
                "recipient": {"id": _recipient(message)},
                "messaging_type": "RESPONSE",
                "message": {"text": message.text},
            },
        )
        external_id = body.get("message_id")
    else:
        target = message.in_reply_to_external_id
        if not target:
            raise SendError("There is no post or comment to answer.", retryable=False)
        edge = "replies" if message.channel.kind == Channel.Kind.INSTAGRAM else "comments"
        body = _post(http, f"{GRAPH_URL}/{target}/{edge}", token=token, payload={"message": message.text})
        external_id = body.get("id")
    if not external_id:
        raise SendError("The network accepted the reply but gave no id for it.", retryable=False)
    return Sent(str(external_id))


def _x(message: Message, http: httpx.Client) -> Sent:
    token = message.channel.secret("user_access_token", required=True)
    if message.is_private:
        body = _post(
            http,
            f"{X_URL}/dm_conversations/with/{_recipient(message)}/messages",
            token=token,
            payload={"text": message.text},
        )
        external_id = (body.get("data") or {}).get("dm_event_id")
    else:
        payload = {"text": message.text}
        if message.in_reply_to_external_id:
            payload["reply"] = {"in_reply_to_tweet_id": message.in_reply_to_external_id}
        body = _post(http, f"{X_URL}/tweets", token=token, payload=payload)
        external_id = (body.get("data") or {}).get("id")
    if not external_id:
        raise SendError("X accepted the reply but gave no id for it.", retryable=False)
    return Sent(str(external_id))


def _email(message: Message) -> Sent:
    """An e-mail in the customer's thread. Header values made from customer text (the subject, the
    id of the message answered) are put on one line first: a CR or LF in them would make the mail
    library refuse the reply (BadHeaderError), and other control characters have no place there."""
    conversation = message.conversation
    address = conversation.customer.email or _recipient(message)
    if "@" not in address:
        raise SendError("The customer has no e-mail address to answer.", retryable=False)
    subject = single_line(conversation.subject, max_length=SUBJECT_MAX_LENGTH) or "Your message"
    if not subject.lower().startswith("re:"):
        subject = f"Re: {subject}"
    message_id = f"<reply-{message.pk}@{getattr(settings, 'HOST', '') or 'socialcrm.local'}>"
    headers = {"Message-ID": message_id}
    if answering := single_line(message.in_reply_to_external_id, max_length=255):
        headers |= {"In-Reply-To": answering, "References": answering}
    email = EmailMessage(
        subject=subject,
        body=message.text,
        from_email=message.channel.config.get("from_address") or None,
        to=[address],
        headers=headers,
    )
    try:
        email.send(fail_silently=False)
    except OSError as problem:  # SMTP errors are OSErrors: connection refused, timeouts, 4xx/5xx replies
        raise SendError(f"The mail server refused or could not be reached ({problem}).", retryable=True) from problem
    return Sent(message_id)


def _sandbox(message: Message) -> Sent:
    """Record what would be sent, for demo and generic channels. Nothing leaves the building."""
    Message.objects.filter(pk=message.pk).update(
        raw_payload={"sandbox": {"channel": message.channel.slug, "private": message.is_private, "text": message.text}}
    )
    return Sent(f"sandbox-{message.pk}")
