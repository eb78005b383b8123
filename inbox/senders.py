"""Replies going out: one adapter per network, chosen by the channel's kind.

Each adapter sends one outbound Message and returns the network's id for it, or raises SendError
saying whether trying again could help (timeouts, 429 and 5xx can; a 4xx the platform explains
cannot). Channels with no way to answer (generic webhooks, feeds), and any channel whose config
says `"sandbox": true`, use the sandbox: it records what it would have sent and sends nothing.
"""

from dataclasses import dataclass

import httpx
from django.conf import settings
from django.core.mail import EmailMessage

from inbox.models import Channel, Message, SecretsUnreadable

TIMEOUT = httpx.Timeout(15.0, connect=5.0)
GRAPH_URL = "https://graph.facebook.com/v21.0"
X_URL = "https://api.x.com/2"
# What each network accepts in one reply (characters); the reply box counts down from it.
LENGTH_LIMITS = {"x": 280, "instagram": 2200, "facebook": 8000, "email": 100_000}
DEFAULT_LENGTH_LIMIT = 10_000


class SendError(Exception):
    def __init__(self, reason: str, *, retryable: bool):
        super().__init__(reason)
        self.reason, self.retryable = reason[:500], retryable


@dataclass(frozen=True)
class Sent:
    external_id: str


def length_limit(channel: Channel) -> int:
    return LENGTH_LIMITS.get(channel.network, DEFAULT_LENGTH_LIMIT)


def send(message: Message, *, client: httpx.Client | None = None) -> Sent:
    """Send one outbound reply on its conversation's channel."""
    channel = message.channel
    if channel.config.get("sandbox") or channel.kind in (Channel.Kind.WEBHOOK, Channel.Kind.RSS):
        return _sandbox(message)
    if channel.kind == Channel.Kind.EMAIL:
        return _email(message)
    with client or httpx.Client(timeout=TIMEOUT, follow_redirects=False) as http:
        if channel.kind in (Channel.Kind.FACEBOOK, Channel.Kind.INSTAGRAM):
            return _meta(message, http)
        if channel.kind == Channel.Kind.X:
            return _x(message, http)
    raise SendError(f"No way to reply on a {channel.get_kind_display()} channel.", retryable=False)


def _secret(channel: Channel, name: str) -> str:
    try:
        value = channel.secret(name)
    except SecretsUnreadable as problem:
        raise SendError(str(problem), retryable=False) from None
    if not value:
        raise SendError(f"The channel has no '{name}' secret: add it in admin (Channel > Secrets).", retryable=False)
    return value


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


def _post(http: httpx.Client, url: str, *, token: str, payload: dict) -> dict:
    try:
        response = http.post(url, json=payload, headers={"Authorization": f"Bearer {token}"})
    except httpx.TimeoutException as problem:
        raise SendError(f"The network did not answer in time ({type(problem).__name__}).", retryable=True) from problem
    except httpx.HTTPError as problem:
        raise SendError(f"Could not reach the network ({type(problem).__name__}).", retryable=True) from problem
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
    token = _secret(message.channel, "page_access_token")
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
    token = _secret(message.channel, "user_access_token")
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
    conversation = message.conversation
    address = conversation.customer.email or _recipient(message)
    if "@" not in address:
        raise SendError("The customer has no e-mail address to answer.", retryable=False)
    subject = conversation.subject or "Your message"
    if not subject.lower().startswith("re:"):
        subject = f"Re: {subject}"
    message_id = f"<reply-{message.pk}@{getattr(settings, 'HOST', '') or 'socialcrm.local'}>"
    headers = {"Message-ID": message_id}
    if message.in_reply_to_external_id:
        headers |= {"In-Reply-To": message.in_reply_to_external_id, "References": message.in_reply_to_external_id}
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
