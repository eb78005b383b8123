"""The JSON API: mentions in (POST /api/v1/channels/<slug>/mentions), messages out, and its schema."""

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from inbox.mentions import parse_mention
from inbox.models import Message
from inbox.openapi import OPENAPI
from inbox.selectors import conversations_visible_to
from inbox.services.ingest import ingest
from inbox.tokens import channel_with_token, take_from_rate_limit, token_matches
from socialcrm.api import bearer_token, error, read_json, unauthorised
from socialcrm.payloads import FieldErrors, json_may_hold_unstorable

MAX_BATCH = 1000


@csrf_exempt
@login_not_required
@require_POST
def ingest_mentions(request, slug: str):
    """Store one mention or a batch of up to 1,000, all or nothing. See the OpenAPI schema."""
    channel = channel_with_token(slug, bearer_token(request))
    if channel is None:
        return unauthorised("Missing or wrong token: send 'Authorization: Bearer <channel token>'.")
    if not channel.is_active:
        return error(403, "This channel is deactivated: nothing was stored. An admin can reactivate it.")
    data, problem = read_json(request)
    if problem is not None:
        return problem
    body = request.body

    if isinstance(data, dict) and "mentions" in data:
        items = data["mentions"]
        if not isinstance(items, list):
            return error(400, "'mentions' must be an array of mention objects.")
    elif isinstance(data, dict):
        items = [data]
    else:
        return error(400, 'Send one mention object or {"mentions": [...]}.')
    if not 1 <= len(items) <= MAX_BATCH:
        return error(400, f"A batch holds 1 to {MAX_BATCH:,} mentions (got {len(items):,}).")

    retry_after = take_from_rate_limit(channel, len(items))
    if retry_after is not None:
        response = error(429, f"Over this channel's limit of {channel.rate_limit_per_minute:,} mentions a minute.")
        response["Retry-After"] = str(retry_after)
        return response

    mentions, errors = [], {}
    clean = not json_may_hold_unstorable(body)
    for index, item in enumerate(items):
        try:
            mentions.append(parse_mention(item, raw_is_clean=clean))
        except FieldErrors as invalid:
            errors[str(index)] = invalid.errors
    if errors:
        return error(400, "Nothing was stored: fix the mentions listed in 'errors' (by index).", errors=errors)

    result = ingest(channel=channel, mentions=mentions)
    return JsonResponse(
        {
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "messages": [
                {
                    "external_id": m.external_id,
                    "id": m.id,
                    "conversation_id": m.conversation_id,
                    "duplicate": m.duplicate,
                }
                for m in result.messages
            ],
        },
        status=202,
    )


@login_not_required
@require_GET
def message_detail(request, message_id: int):
    """One message with its conversation's state and triage: for its channel's token or a user who may see it."""
    message = (
        Message.objects.select_related("channel__api_token", "conversation__queue", "author", "triage__queue")
        .filter(pk=message_id)
        .first()
    )
    token = bearer_token(request)
    if token is None and not request.user.is_authenticated:
        return unauthorised("Send 'Authorization: Bearer <channel token>', or sign in.")
    if message is None or not _may_read(request, token, message):
        return error(404, "No such message.")
    return JsonResponse(message_json(message))


def _may_read(request, token: str | None, message: Message) -> bool:
    if token is not None:
        # A deactivated channel's token reads nothing either (deactivating is how a leak is cut off).
        return message.channel.is_active and token_matches(message.channel, token)
    return conversations_visible_to(request.user).filter(pk=message.conversation_id).exists()


def message_json(message: Message) -> dict:
    author = message.author
    triage = getattr(message, "triage", None)
    return {
        "id": message.pk,
        "external_id": message.external_id,
        "channel": message.channel.slug,
        "direction": message.direction,
        "private": message.is_private,
        "text": message.text,
        "url": message.url,
        "posted_at": message.posted_at.isoformat(),
        "received_at": message.received_at.isoformat(),
        "in_reply_to": message.in_reply_to_external_id or None,
        "author": author
        and {
            "external_id": author.external_id,
            "handle": author.handle,
            "name": author.display_name,
            "followers": author.followers,
            "verified": author.verified,
            "customer_id": author.customer_id,
        },
        "conversation": {
            "id": message.conversation_id,
            "status": message.conversation.status,
            "queue": message.conversation.queue.slug if message.conversation.queue else None,
        },
        "triage_state": message.triage_state,
        "triage": triage
        and {
            "type": triage.message_type,
            "sentiment": triage.sentiment,
            "sentiment_score": triage.sentiment_score,
            "language": triage.language,
            "influence": triage.influence,
            "influence_band": triage.influence_band,
            "action_needed": triage.action_needed,
            "priority": triage.priority,
            "labels": triage.labels,
            "queue": triage.queue.slug if triage.queue else None,
            "explanation": triage.explanation,
        },
    }


@login_not_required
@require_GET
def openapi(request):
    return JsonResponse(OPENAPI)
