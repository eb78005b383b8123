"""POST /api/v1/triage/preview: what triage would decide for up to 1,000 texts, storing nothing."""

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from customers.models import Network, Tier
from socialcrm.api import bearer_token, error, read_json, take_from_allowance, unauthorised
from socialcrm.models import ApiToken
from socialcrm.payloads import MAX_TEXT_LENGTH, FieldErrors, parse_bool, parse_choice, parse_followers
from socialcrm.roles import is_supervisor
from triage.models import Priority
from triage.pipeline import Item, decide
from triage.scoring import Author

MAX_ITEMS = 1000
# A request's texts together: about a second of triage on one core. More was a way for one caller to
# hold the web process (4.6 MB took 16 s).
MAX_TOTAL_CHARS = 250_000
REQUESTS_PER_MINUTE = 30  # per token or user; a 1,000-item request costs about a third of a CPU second


@csrf_exempt  # a token client has no cookie to forge; session callers are checked for CSRF below
@login_not_required
@require_POST
async def preview(request):
    """Triage each item as if it had arrived. For managers and admins, or a token with the triage scope.

    The checks run in Django's sync thread like any view; the triage itself, the part that costs CPU
    seconds, runs in a worker thread of its own, so the server's other requests (and /healthz) are not
    queued behind it.
    """
    admitted = await sync_to_async(_admit)(request)
    if isinstance(admitted, JsonResponse):
        return admitted
    decisions = await sync_to_async(_decide_beside, thread_sensitive=False)(admitted)
    return JsonResponse({"items": [_answer(decision) for decision in decisions]})


def _decide_beside(items: list[Item]):
    """decide() in a thread of the executor's, giving back the database connection it took."""
    try:
        return decide(items)
    finally:
        connection.close()


def _admit(request) -> list[Item] | JsonResponse:
    """Who may ask, how often, and what they sent: the items to triage, or the error response."""
    token = bearer_token(request)
    if token is not None:
        api_token = ApiToken.find(token, scope=ApiToken.Scope.TRIAGE)
        if api_token is None:
            return unauthorised("That token is unknown, revoked, or not for the triage scope.")
        api_token.record_use()
        caller = f"token:{api_token.pk}"
    elif request.user.is_authenticated:
        if not is_supervisor(request.user):
            return error(403, "Only managers and admins may preview triage.")
        if CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {}) is not None:
            return error(403, "CSRF check failed: send the X-CSRFToken header with the csrftoken cookie's value.")
        caller = f"user:{request.user.pk}"
    else:
        return unauthorised("Sign in as a manager or admin, or send 'Authorization: Bearer <triage token>'.")
    retry_after = take_from_allowance(f"triage-preview:{caller}", 1, per_minute=REQUESTS_PER_MINUTE)
    if retry_after is not None:
        response = error(429, f"Over the limit of {REQUESTS_PER_MINUTE} previews a minute.")
        response["Retry-After"] = str(retry_after)
        return response

    data, problem = read_json(request)
    if problem is not None:
        return problem
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        return error(400, 'Send {"items": [{"text": ...}, ...]}.')
    if not 1 <= len(data["items"]) <= MAX_ITEMS:
        return error(400, f"Send 1 to {MAX_ITEMS:,} items (got {len(data['items']):,}).")
    items, errors = [], {}
    for index, raw in enumerate(data["items"]):
        try:
            items.append(_item(raw))
        except FieldErrors as invalid:
            errors[str(index)] = invalid.errors
    if errors:
        return error(400, "Fix the items listed in 'errors' (by index).", errors=errors)
    if (total := sum(len(item.text) for item in items)) > MAX_TOTAL_CHARS:
        return error(400, f"The texts add up to {total:,} characters; send at most {MAX_TOTAL_CHARS:,} a request.")
    return items


def _item(raw) -> Item:
    """One preview item, read as the ingest API reads a mention: each problem is named by its field."""
    if not isinstance(raw, dict):
        raise FieldErrors({"": "Each item must be an object with a 'text'."})
    errors: dict[str, str] = {}
    text = raw.get("text")
    if not isinstance(text, str):
        errors["text"] = "Must be a string (it may be empty)."
    elif len(text) > MAX_TEXT_LENGTH:
        errors["text"] = f"At most {MAX_TEXT_LENGTH:,} characters (got {len(text):,})."
    network = parse_choice(raw.get("network"), "network", errors, choices=Network.values)
    private = parse_bool(raw.get("private"), "private", errors, default=False)
    author = raw.get("author")
    if author is None:
        author = {}
    elif not isinstance(author, dict):
        errors["author"] = "Must be an object."
        author = {}
    followers = parse_followers(author.get("followers"), "author.followers", errors)
    verified = parse_bool(author.get("verified"), "author.verified", errors, default=False)
    tier = parse_choice(author.get("tier"), "author.tier", errors, choices=Tier.values)
    if errors:
        raise FieldErrors(errors)
    return Item(
        text=text,
        network=network,
        is_private=private,
        author=Author(followers=followers or 0, verified=verified, tier=tier),
    )


def _answer(decision) -> dict:
    return {
        "type": decision.message_type,
        "sentiment": decision.sentiment,
        "sentiment_score": decision.sentiment_score,
        "language": decision.language,
        "influence": decision.influence,
        "influence_band": decision.influence_band,
        "action_needed": decision.action_needed,
        "priority": Priority(decision.priority).name.lower(),
        "queue": decision.queue_slug or None,
        "rule": decision.rule_name or None,
        "labels": decision.labels,
        "explanation": decision.explanation,
        "model_version": decision.model_version,
    }
