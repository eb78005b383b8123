"""Scores that need no learned model: the author's influence, whether a reply is owed, the priority."""

import math
from dataclasses import dataclass

from triage.models import InfluenceBand, MessageType, Priority, Sentiment, TriageSettings


@dataclass(frozen=True)
class Author:
    """What triage knows of who wrote a message (all optional: a preview may know only followers)."""

    followers: int = 0
    verified: bool = False
    tier: str = ""
    lifetime_value: float = 0.0
    past_conversations: int = 0


@dataclass(frozen=True)
class InfluencePolicy:
    """TriageSettings as plain numbers, read once per change rather than once per message."""

    followers_weight: float
    followers_for_full_score: int
    verified_weight: float
    tier_weight: float
    tier_scores: dict
    value_weight: float
    value_for_full_score: int
    interactions_weight: float
    interactions_for_full_score: int
    medium_band_from: float
    high_band_from: float

    @classmethod
    def from_settings(cls, settings: TriageSettings) -> "InfluencePolicy":
        return cls(**{field: getattr(settings, field) for field in cls.__dataclass_fields__})

    def score(self, author: Author) -> float:
        """Influence from 0 to 1. Each part (followers on a log scale, verification, tier, value, history)
        can raise it up to its weight on its own, and parts add up like independent chances:
        1 - (1 - w1*p1)(1 - w2*p2)... So a 500k-follower account is influential whatever its tier,
        and a VIP customer is, whatever their followers."""
        parts = [
            (self.followers_weight, _log_share(author.followers, self.followers_for_full_score) ** 2),
            (self.verified_weight, 1.0 if author.verified else 0.0),
            (self.tier_weight, _clamp(float(self.tier_scores.get(author.tier, 0) or 0))),
            (self.value_weight, _clamp(author.lifetime_value / max(self.value_for_full_score, 1))),
            (self.interactions_weight, _clamp(author.past_conversations / max(self.interactions_for_full_score, 1))),
        ]
        unmoved = 1.0
        for weight, part in parts:
            unmoved *= 1 - _clamp(weight) * part
        return round(1 - unmoved, 3)

    def band(self, score: float) -> str:
        if score >= self.high_band_from:
            return InfluenceBand.HIGH
        if score >= self.medium_band_from:
            return InfluenceBand.MEDIUM
        return InfluenceBand.LOW


def _clamp(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def _log_share(count: int, full: int) -> float:
    if count <= 0:
        return 0.0
    return _clamp(math.log10(1 + count) / math.log10(1 + max(full, 1)))


BAND_ORDER = {InfluenceBand.LOW: 0, InfluenceBand.MEDIUM: 1, InfluenceBand.HIGH: 2}

# A reply is owed for these whatever the channel; in a private message, for anything but "other".
_ALWAYS_ANSWERED = frozenset({MessageType.QUESTION, MessageType.COMPLAINT, MessageType.LEAD})


def action_needed(*, message_type: str, is_private: bool, text: str) -> bool:
    """Whether someone at the brand owes the author a reply."""
    if message_type in _ALWAYS_ANSWERED:
        return True
    if is_private:
        return message_type != MessageType.OTHER
    return message_type == MessageType.FEEDBACK and "?" in text


_TYPE_WEIGHT = {
    MessageType.COMPLAINT: 1.4,
    MessageType.LEAD: 1.3,
    MessageType.QUESTION: 1.2,
    MessageType.FEEDBACK: 0.8,
    MessageType.COMPLIMENT: 0.4,
    MessageType.OTHER: 0.2,
}
_TIER_WEIGHT = {"vip": 0.5, "premium": 0.25}


def priority(
    *, message_type: str, sentiment: str, sentiment_score: float, influence: float, tier: str, action_needed: bool
) -> int:
    """Urgency from everything known: what it is, how negative, whose voice, and whether a reply is owed.

    A strongly negative complaint from an influential author is urgent; a compliment is never above normal.
    """
    weight = _TYPE_WEIGHT.get(message_type, 0.2) + 2 * influence + _TIER_WEIGHT.get(tier, 0)
    if sentiment == Sentiment.NEGATIVE:
        weight += min(-sentiment_score, 1.0)
    if weight >= 3.2:
        level = Priority.URGENT
    elif weight >= 2.3:
        level = Priority.HIGH
    elif weight >= 1.0:
        level = Priority.NORMAL
    else:
        level = Priority.LOW
    if not action_needed:
        level = min(level, Priority.NORMAL)
    return int(level)
