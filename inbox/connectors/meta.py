"""Facebook Pages and Instagram through Meta's Graph API webhooks: /webhooks/meta/<channel slug>.

The channel's secrets hold `verify_token` (checked on Meta's GET handshake) and `app_secret` (proves
each POST through X-Hub-Signature-256). Mentions are: Facebook `feed` changes adding a post (item
"post", or "status" as Meta sends visitors' text posts) or a comment, which replies to its parent
comment, else to its post; Instagram `comments`, replying to the parent comment, else to the media;
and Messenger and Instagram `messaging` messages, as private mentions. Reactions, likes, edits,
removals, receipts, postbacks, echoes and the account's own posts and replies are ignored. Attachments
without text become "[image attachment]" (the attachment types), so nothing a customer sends is lost.

Text is cleaned as the ingest API cleans it, except that a text over 10,000 characters is cut there
rather than refused, and NUL characters and unpaired surrogates (which PostgreSQL cannot store) are
dropped or replaced: one odd event must not lose a whole delivery. An event without the ids it needs
is logged and skipped. Each mention keeps its own event (the change or messaging dict) as `raw`.
"""

import hashlib
import hmac
import logging
import re
from datetime import datetime
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from inbox.connectors.webhooks import (
    Unmappable,
    as_dict,
    as_list,
    epoch,
    external_id,
    ingested,
    mention_text,
    refused_while_secrets_unreadable,
    signed_json,
)
from inbox.mentions import MAX_NAME_LENGTH, MAX_URL_LENGTH, IncomingAuthor, IncomingMention
from inbox.models import Channel
from inbox.services.ingest import ingest
from socialcrm.api import error
from socialcrm.payloads import storable_json

logger = logging.getLogger(__name__)

# The webhook object each channel kind subscribes to.
OBJECT_FOR_KIND = {Channel.Kind.FACEBOOK: "page", Channel.Kind.INSTAGRAM: "instagram"}
FEED_ITEMS = frozenset({"post", "status", "comment"})
INSTAGRAM_USERNAME = re.compile(r"^[A-Za-z0-9._]{1,30}$")


@csrf_exempt
@login_not_required
@require_http_methods(["GET", "POST"])
@refused_while_secrets_unreadable
def webhook(request: HttpRequest, slug: str) -> HttpResponse:
    """Answer Meta's subscription handshake (GET) or store a signed delivery (POST) for one channel."""
    channel = Channel.objects.filter(slug=slug, is_active=True, kind__in=OBJECT_FOR_KIND).first()
    if channel is None:
        return error(404, "No active Facebook or Instagram channel with that slug.")
    if request.method == "GET":
        return _handshake(request, channel)
    payload = signed_json(
        request, channel=channel, header="X-Hub-Signature-256", matches=signature_matches, key_name="app_secret"
    )
    if isinstance(payload, JsonResponse):
        return payload
    mentions = mentions_from_delivery(payload, kind=channel.kind, account=str(channel.config.get("page_id") or ""))
    return ingested(ingest(channel=channel, mentions=mentions))


def _handshake(request: HttpRequest, channel: Channel) -> HttpResponse:
    mode, token, challenge = (request.GET.get(f"hub.{key}", "") for key in ("mode", "verify_token", "challenge"))
    verify_token = channel.secret("verify_token")
    if (
        mode == "subscribe"
        and challenge
        and verify_token
        and hmac.compare_digest(token.encode(), verify_token.encode())
    ):
        return HttpResponse(challenge, content_type="text/plain")
    return error(403, "Verification failed: wrong hub.mode or hub.verify_token, or no verify_token is set.")


def signature_matches(*, body: bytes, header: str, secret: str | None) -> bool:
    """Whether `header` is "sha256=" and the hex HMAC-SHA256 of `body` under the app secret."""
    if not secret:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header.encode(), expected.encode())


def mentions_from_delivery(payload: Any, *, kind: str, account: str = "") -> list[IncomingMention]:
    """The mentions in one webhook delivery for a channel of `kind` ("facebook" or "instagram").

    A delivery for the other object (an Instagram one on a Facebook channel, say) yields nothing.
    With `account` (the channel's config "page_id": its Page or Instagram account id), entries of
    other pages are dropped: one Meta app sends every subscribed page's events to one URL.
    """
    payload = as_dict(storable_json(payload))
    if payload.get("object") != OBJECT_FOR_KIND.get(kind):
        logger.info("meta: ignored a delivery for object %r on a %s channel", payload.get("object"), kind)
        return []
    wanted_field, map_change = ("feed", _feed_change) if kind == Channel.Kind.FACEBOOK else ("comments", _ig_comment)
    now = timezone.now()
    mentions = []
    for entry in map(as_dict, as_list(payload.get("entry"))):
        if account and str(entry.get("id")) != account:
            continue
        events = [(_message, event) for event in as_list(entry.get("messaging"))]
        events += [(map_change, c) for c in as_list(entry.get("changes")) if as_dict(c).get("field") == wanted_field]
        for mapper, event in events:
            try:
                mention = mapper(as_dict(event), entry=entry, now=now)
            except Unmappable as problem:
                logger.warning("meta: skipped an event on account %s: %s", entry.get("id"), problem)
                continue
            if mention is not None:
                mentions.append(mention)
    return mentions


def _feed_change(change: dict, *, entry: dict, now: datetime) -> IncomingMention | None:
    value = as_dict(change.get("value"))
    item, author = value.get("item"), as_dict(value.get("from"))
    if value.get("verb") != "add" or item not in FEED_ITEMS or _ours(author.get("id"), entry):
        return None  # reactions, likes, edits, removals, and the page's own posts and replies
    is_comment, url = item == "comment", value.get("permalink_url") or as_dict(value.get("post")).get("permalink_url")
    return IncomingMention(
        external_id=external_id(value.get(id_field := "comment_id" if is_comment else "post_id"), id_field),
        text=mention_text(value.get("message") or _describe([k for k in ("photo", "video") if value.get(k)])),
        author=IncomingAuthor(
            external_id=external_id(author.get("id"), "from.id"),
            name=mention_text(author.get("name"), max_length=MAX_NAME_LENGTH, required=False),
        ),
        url=url if isinstance(url, str) and url.startswith("https://") and len(url) <= MAX_URL_LENGTH else "",
        posted_at=epoch(value.get("created_time"), now=now),
        in_reply_to=external_id(value.get("parent_id") or value.get("post_id"), "parent_id") if is_comment else "",
        raw=change,
    )


def _ig_comment(change: dict, *, entry: dict, now: datetime) -> IncomingMention | None:
    value = as_dict(change.get("value"))
    author = as_dict(value.get("from"))
    if _ours(author.get("id"), entry):
        return None  # the account's own reply
    username = mention_text(author.get("username"), max_length=MAX_NAME_LENGTH, required=False)
    return IncomingMention(
        external_id=external_id(value.get("id"), "id"),
        text=mention_text(value.get("text")),
        author=IncomingAuthor(
            external_id=external_id(author.get("id"), "from.id"),
            handle=f"@{username}" if username else "",
            profile_url=f"https://www.instagram.com/{username}/" if INSTAGRAM_USERNAME.match(username) else "",
        ),
        posted_at=epoch(entry.get("time"), now=now),  # a comment carries no time of its own
        in_reply_to=external_id(value.get("parent_id") or as_dict(value.get("media")).get("id"), "media.id"),
        raw=change,
    )


def _message(event: dict, *, entry: dict, now: datetime) -> IncomingMention | None:
    message, sender = as_dict(event.get("message")), as_dict(event.get("sender")).get("id")
    if not message or message.get("is_echo") or message.get("is_deleted") or _ours(sender, entry):
        return None  # receipts, postbacks, unsent messages, our own messages coming back
    kinds = [str(as_dict(attachment).get("type") or "file") for attachment in as_list(message.get("attachments"))]
    if not message.get("text") and not kinds:
        return None
    reply_to = as_dict(message.get("reply_to")).get("mid")
    return IncomingMention(
        external_id=external_id(message.get("mid"), "message.mid"),
        text=mention_text(message.get("text") or _describe(kinds)),
        author=IncomingAuthor(external_id=external_id(sender, "sender.id")),
        posted_at=epoch(event.get("timestamp"), now=now),
        in_reply_to=external_id(reply_to, "reply_to.mid") if reply_to else "",
        private=True,
        raw=event,
    )


def _ours(author_id: Any, entry: dict) -> bool:
    """Whether the event's author is the page or account the entry is for."""
    return author_id is not None and str(author_id) == str(entry.get("id"))


def _describe(kinds: list[str]) -> str:
    """What stands for attachments without text: "[image attachment]", "[image, video attachments]"."""
    return f"[{', '.join(dict.fromkeys(kinds))} attachment{'s' if len(kinds) > 1 else ''}]" if kinds else ""
