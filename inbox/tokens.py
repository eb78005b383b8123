"""Channel API tokens (an ApiToken of the ingest scope each) and the per-channel ingest rate limit."""

from django.db import transaction

from inbox.models import Channel
from socialcrm.api import take_from_allowance
from socialcrm.models import ApiToken


@transaction.atomic
def issue_token(channel: Channel) -> str:
    """Give the channel a new API token and return it; only its hash is stored, and the old one is deleted."""
    old = channel.api_token_id
    channel.api_token, secret = ApiToken.issue(name=f"Channel {channel.slug}", scope=ApiToken.Scope.INGEST)
    channel.save(update_fields=["api_token"])
    ApiToken.objects.filter(pk=old).delete()
    return secret


def channel_with_token(slug: str, secret: str | None) -> Channel | None:
    """The channel with this slug if the secret is its (unrevoked) token, else None; one query.

    An unknown slug and a wrong token are the same None, so the API does not tell which channels exist.
    """
    channel = Channel.objects.select_related("api_token").filter(slug=slug).first()
    if channel is None or not token_matches(channel, secret):
        return None
    channel.api_token.record_use()
    return channel


def token_matches(channel: Channel, secret: str | None) -> bool:
    """Whether the secret is the channel's unrevoked token, compared in constant time."""
    return channel.api_token is not None and channel.api_token.matches(secret)


def take_from_rate_limit(channel: Channel, count: int) -> int | None:
    """Count `count` mentions against the channel's per-minute allowance.

    Returns None when they fit, else the seconds until the next minute starts (for Retry-After).
    """
    return take_from_allowance(f"ingest-rate:{channel.pk}", count, per_minute=channel.rate_limit_per_minute)
