"""What the webhook connectors (Meta, X) share: reading ids, times and text out of untrusted events."""

import functools
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from inbox.mentions import FUTURE_TOLERANCE, MAX_ID_LENGTH, clean_text
from inbox.models import Channel, SecretsUnreadable
from inbox.services.ingest import IngestResult
from socialcrm.api import error
from socialcrm.payloads import MAX_TEXT_LENGTH, UnreadableJSON, loads_untrusted

logger = logging.getLogger(__name__)


def signed_json(
    request: HttpRequest, *, channel: Channel, header: str, matches: Callable[..., bool], key_name: str
) -> Any | JsonResponse:
    """The delivery's JSON once its signature checks out, else the error response to send (403 or 400).

    The signature is checked on the raw bytes before anything is parsed.
    """
    body = request.body  # over 5 MB: Django answers 400
    if not matches(body=body, header=request.headers.get(header, ""), secret=channel.secret(key_name)):
        logger.warning(
            "%s channel %s: refused a delivery with a missing or wrong signature", channel.kind, channel.slug
        )
        return error(403, f"Missing or wrong {header} (or the channel has no {key_name}).")
    try:
        delivery = loads_untrusted(body)
    except UnreadableJSON as problem:
        return error(400, str(problem))
    if not isinstance(delivery, dict):
        return error(400, "A delivery is a JSON object.")
    return delivery


def ingested(result: IngestResult) -> JsonResponse:
    return JsonResponse({"accepted": result.accepted, "duplicates": result.duplicates})


class Unmappable(Exception):
    """The event lacks what a mention needs; the message says what (never the customer's text)."""


def mention_text(value: Any, *, max_length: int = MAX_TEXT_LENGTH, required: bool = True) -> str:
    """inbox.mentions.clean_text, cutting a text over `max_length` instead of refusing it; else Unmappable."""
    errors: dict[str, str] = {}
    value = value[:max_length] if isinstance(value, str) else value
    text = clean_text(value, "text", errors, max_length=max_length, required=required)
    if errors:
        raise Unmappable(f"text: {errors['text']}")
    return text


def external_id(value: Any, name: str) -> str:
    """A network id as text; raises Unmappable when it is missing, blank or too long to store."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_LENGTH:
        raise Unmappable(f"no usable {name}")
    return value


def epoch(value: Any, *, now: datetime) -> datetime | None:
    """Unix time in seconds or milliseconds (as digits or a number); None when absent, now when in the future."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 10**14:
        return None
    moment = datetime.fromtimestamp(value / 1000 if value > 10**11 else value, tz=UTC)  # 10**11 s is year 5138
    return now if moment > now + FUTURE_TOLERANCE else moment


def as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def refused_while_secrets_unreadable(view: Callable[[HttpRequest, str], HttpResponse]):
    """The webhook view, answering 503 (and logging which channel) when its secrets cannot be decrypted.

    Platforms deliver a refused webhook again later, so mentions wait for the key to be restored.
    """

    @functools.wraps(view)
    def wrapper(request: HttpRequest, slug: str) -> HttpResponse:
        try:
            return view(request, slug)
        except SecretsUnreadable as problem:
            logger.error("%s", problem)
            return error(503, "The channel's secrets cannot be read on this server; deliver again later.")

    return wrapper
