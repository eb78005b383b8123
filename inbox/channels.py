"""Channel credentials and the per-channel ingest rate limit."""

import hmac
import math
import secrets
import time

from django.core.cache import cache

from inbox.models import Channel
from socialcrm.models import TOKEN_PREFIX, hash_token


def issue_token(channel: Channel) -> str:
    """Give the channel a new API token and return it; only its hash is stored, and the old one stops working."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    channel.token_hash = hash_token(token)
    channel.save(update_fields=["token_hash"])
    return token


def token_matches(channel: Channel, token: str | None) -> bool:
    """Whether the token is the channel's, compared in constant time."""
    if not token or not channel.token_hash:
        return False
    return hmac.compare_digest(hash_token(token), channel.token_hash)


def bearer_token(request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def take_from_rate_limit(channel: Channel, count: int) -> int | None:
    """Count `count` mentions against the channel's per-minute allowance.

    Returns None when they fit, else the seconds until the next minute starts (for Retry-After).
    """
    return take_from_allowance(f"ingest-rate:{channel.pk}", count, per_minute=channel.rate_limit_per_minute)


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
