"""Channel API tokens (issued, matched in constant time) and the per-channel ingest rate limit."""

import hmac
import secrets

from inbox.models import Channel
from socialcrm.api import take_from_allowance
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


def take_from_rate_limit(channel: Channel, count: int) -> int | None:
    """Count `count` mentions against the channel's per-minute allowance.

    Returns None when they fit, else the seconds until the next minute starts (for Retry-After).
    """
    return take_from_allowance(f"ingest-rate:{channel.pk}", count, per_minute=channel.rate_limit_per_minute)
