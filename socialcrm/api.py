"""The plumbing of every JSON door: error answers, reading a JSON body, bearer tokens, rate limits."""

import math
import time

from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse

from socialcrm.payloads import UnreadableJSON, loads_untrusted

MAX_BODY_BYTES = 5 * 1024 * 1024


def error(status: int, message: str, **extra) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def unauthorised(message: str) -> JsonResponse:
    """401 with the challenge that tells a client to send a bearer token."""
    response = error(401, message)
    response["WWW-Authenticate"] = 'Bearer realm="socialcrm"'
    return response


class _Unreadable(Exception):
    def __init__(self, status: int, message: str):
        self.response = error(status, message)


def read_json(request) -> tuple[object, JsonResponse | None]:
    """The request's JSON body, or the error response that says why it cannot be read.

    Checks the content type, a 5 MB size limit (before reading), strict UTF-8, and nesting depth.
    """
    try:
        return _read_json(request), None
    except _Unreadable as unreadable:
        return None, unreadable.response


def _read_json(request):
    too_big = f"The body is over {MAX_BODY_BYTES // (1024 * 1024)} MB; send smaller batches."
    if request.content_type != "application/json":
        raise _Unreadable(415, "Send the body as JSON with 'Content-Type: application/json'.")
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        raise _Unreadable(413, too_big)
    try:
        body = request.body
    except RequestDataTooBig as problem:
        raise _Unreadable(413, too_big) from problem
    try:
        # Strict UTF-8 first: json.loads would also take UTF-16 or let raw surrogates through.
        return loads_untrusted(body.decode("utf-8"))
    except UnicodeDecodeError as problem:
        raise _Unreadable(400, "The body is not valid UTF-8.") from problem
    except UnreadableJSON as problem:
        raise _Unreadable(400, str(problem)) from problem


def bearer_token(request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def take_from_allowance(key: str, count: int, *, per_minute: int) -> int | None:
    """Count `count` against a per-minute allowance named `key`; None when it fits, else seconds to wait.

    Shared by every web process through the cache (Redis in production).
    """
    now = time.time()
    window = int(now // 60)
    key = f"{key}:{window}"
    cache.add(key, 0, timeout=120)
    try:
        used = cache.incr(key, count)
    except ValueError:  # expired between add and incr
        cache.set(key, count, timeout=120)
        used = count
    if used > per_minute:
        return max(1, math.ceil((window + 1) * 60 - now))
    return None
