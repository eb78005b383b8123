"""X (Twitter) through the Account Activity API's webhooks: /webhooks/x/<channel slug>.

The channel's secret `consumer_secret` (the app's API secret) answers X's CRC checks and proves
each POST through the x-twitter-webhooks-signature header. Mentions are `tweet_create_events` (v1.1
tweets, public, replying to `in_reply_to_status_id_str`) and `direct_message_events` of type
"message_create" (private, their authors described in the payload's `users`). Tweets and messages of
the subscribed account itself (`for_user_id`) are ignored, and so is every other kind of event
(favorites, follows, blocks, typing indicators...).

v1.1 tweet text comes with &, < and > escaped as HTML entities; they are turned back into what the
author typed, which is then stored as text like any other. Text is cleaned, cut at 10,000
characters, and unmappable events are logged and skipped as for Meta (see inbox.connectors.meta).
"""

import base64
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
from inbox.mentions import MAX_NAME_LENGTH, IncomingAuthor, IncomingMention
from inbox.models import Channel
from inbox.services.ingest import ingest
from socialcrm.api import error
from socialcrm.payloads import MAX_FOLLOWERS, storable_json

logger = logging.getLogger(__name__)

SCREEN_NAME = re.compile(r"^[A-Za-z0-9_]{1,15}$")
CRC_TOKEN = re.compile(r"[A-Za-z0-9+/=_-]{1,128}")
CREATED_AT_FORMAT = "%a %b %d %H:%M:%S %z %Y"  # "Wed Oct 10 20:19:24 +0000 2018"


@csrf_exempt
@login_not_required
@require_http_methods(["GET", "POST"])
@refused_while_secrets_unreadable
def webhook(request: HttpRequest, slug: str) -> HttpResponse:
    """Answer X's CRC check (GET) or store a signed activity delivery (POST) for one channel."""
    channel = Channel.objects.filter(slug=slug, is_active=True, kind=Channel.Kind.X).first()
    if channel is None:
        return error(404, "No active X channel with that slug.")
    consumer_secret = channel.secret("consumer_secret")
    if request.method == "GET":
        crc_token = request.GET.get("crc_token", "")
        # The answer is an HMAC under the same key as delivery signatures, so answering any string
        # would sign a forged delivery for whoever asks. X's tokens are short base64 text; a JSON
        # body never is.
        if not CRC_TOKEN.fullmatch(crc_token):
            return error(400, "Missing or malformed crc_token: X sends a short base64 token to check this webhook.")
        if consumer_secret is None:
            return error(403, "The channel has no consumer_secret to answer the CRC check with.")
        return JsonResponse(
            {"response_token": crc_response_token(crc_token=crc_token, consumer_secret=consumer_secret)}
        )
    payload = signed_json(
        request,
        channel=channel,
        header="x-twitter-webhooks-signature",
        matches=signature_matches,
        key_name="consumer_secret",
    )
    if isinstance(payload, JsonResponse):
        return payload
    account = str(channel.config.get("user_id") or "")
    if account and str(as_dict(payload).get("for_user_id")) != account:
        # One X app sends every subscribed account's events to one URL: keep only this channel's.
        return JsonResponse({"accepted": 0, "duplicates": 0, "ignored": "another account's events"})
    return ingested(ingest(channel=channel, mentions=mentions_from_activity(payload)))


def crc_response_token(*, crc_token: str, consumer_secret: str) -> str:
    """X's CRC answer: "sha256=" and the base64 HMAC-SHA256 of the token under the consumer secret."""
    return _signature(crc_token.encode(), key=consumer_secret)


def signature_matches(*, body: bytes, header: str, secret: str | None) -> bool:
    """Whether `header` is "sha256=" and the base64 HMAC-SHA256 of `body` under the consumer secret."""
    return bool(secret) and hmac.compare_digest(header.encode(), _signature(body, key=secret).encode())


def _signature(message: bytes, *, key: str) -> str:
    return "sha256=" + base64.b64encode(hmac.new(key.encode(), message, hashlib.sha256).digest()).decode()


def mentions_from_activity(payload: Any) -> list[IncomingMention]:
    """The mentions in one Account Activity delivery: others' tweets and direct messages."""
    payload = as_dict(storable_json(payload))
    ours, users, now = str(payload.get("for_user_id") or ""), as_dict(payload.get("users")), timezone.now()
    events = [(_tweet, event) for event in as_list(payload.get("tweet_create_events"))]
    events += [(_direct_message, event) for event in as_list(payload.get("direct_message_events"))]
    mentions = []
    for mapper, event in events:
        try:
            mention = mapper(as_dict(event), ours=ours, users=users, now=now)
        except Unmappable as problem:
            logger.warning("x: skipped an event for account %s: %s", ours, problem)
            continue
        if mention is not None:
            mentions.append(mention)
    return mentions


def _tweet(tweet: dict, *, ours: str, users: dict, now: datetime) -> IncomingMention | None:
    user = as_dict(tweet.get("user"))
    author_id = external_id(user.get("id_str") or user.get("id"), "user.id_str")
    if author_id == ours:
        return None  # our own tweet or reply
    tweet_id = external_id(tweet.get("id_str") or tweet.get("id"), "id_str")
    extended = as_dict(tweet.get("extended_tweet")).get("full_text") if tweet.get("truncated") else None
    text = extended or tweet.get("full_text") or tweet.get("text")
    author = _author(user, author_id=author_id)
    name_in_url = author.handle[1:] if SCREEN_NAME.match(author.handle[1:]) else "i"  # x.com/i/status/<id> works too
    reply_to = tweet.get("in_reply_to_status_id_str")
    return IncomingMention(
        external_id=tweet_id,
        text=mention_text(_unescape(text) if isinstance(text, str) else text),
        author=author,
        url=f"https://x.com/{name_in_url}/status/{tweet_id}" if tweet_id.isdigit() else "",
        posted_at=_created_at(tweet.get("created_at"), now=now),
        in_reply_to=external_id(reply_to, "in_reply_to_status_id_str") if reply_to else "",
        raw=tweet,
    )


def _direct_message(event: dict, *, ours: str, users: dict, now: datetime) -> IncomingMention | None:
    if event.get("type") != "message_create":
        return None
    message = as_dict(event.get("message_create"))
    sender = external_id(message.get("sender_id"), "message_create.sender_id")
    if sender == ours:
        return None  # a message our account sent
    return IncomingMention(
        external_id=external_id(event.get("id"), "id"),
        text=mention_text(as_dict(message.get("message_data")).get("text")),
        author=_author(as_dict(users.get(sender)), author_id=sender),
        posted_at=epoch(event.get("created_timestamp"), now=now),
        private=True,
        raw=event,
    )


def _author(user: dict, *, author_id: str) -> IncomingAuthor:
    """An X user object as an author: "@screen_name", name, followers, verified, profile URL."""
    screen_name = mention_text(user.get("screen_name"), max_length=MAX_NAME_LENGTH, required=False)
    followers, verified = user.get("followers_count"), user.get("verified")
    return IncomingAuthor(
        external_id=author_id,
        handle=f"@{screen_name}" if screen_name else "",
        name=mention_text(user.get("name"), max_length=MAX_NAME_LENGTH, required=False),
        followers=followers if type(followers) is int and 0 <= followers <= MAX_FOLLOWERS else None,
        verified=verified if isinstance(verified, bool) else None,
        profile_url=f"https://x.com/{screen_name}" if SCREEN_NAME.match(screen_name) else "",
    )


def _unescape(text: str) -> str:
    """Undo v1.1's escaping of exactly &, < and > (html.unescape would also decode what the author typed)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _created_at(value: Any, *, now: datetime) -> datetime | None:
    try:
        moment = datetime.strptime(value, CREATED_AT_FORMAT)
    except (TypeError, ValueError):
        return None
    return epoch(int(moment.timestamp()), now=now)
