"""Admin routing rules, compiled once per change and evaluated in order for each message.

Rules run top to bottom. The first matching rule that sets the queue (or the priority, or the
assignee) decides it; labels add up; a rule with "stop" ends the evaluation. Patterns are evaluated
with a time limit, so a pattern that backtracks catastrophically costs at most that long and the
message is still routed.
"""

import logging
import re
import time
import uuid
from dataclasses import dataclass, field

import regex
from django.core.cache import cache

from triage.models import Queue, RoutingRule, TriageSettings
from triage.scoring import BAND_ORDER, InfluencePolicy

log = logging.getLogger(__name__)

PATTERN_TIMEOUT_SECONDS = 0.05
MAX_MATCH_CHARS = 10_000
CONFIG_VERSION_KEY = "triage:config-version"


PATTERN_BUDGET_SECONDS = 1.0  # all pattern searches of one batch together
MAX_REPEAT = 100
_COUNTED_REPEAT = re.compile(r"\{\s*(\d*)\s*(?:,\s*(\d*)\s*)?\}")


def compile_pattern(pattern: str) -> regex.Pattern:
    """Compile a rule's regular expression (case-insensitive), or raise ValueError saying what is wrong.

    Counted repeats above {MAX_REPEAT} are refused: nested, they make patterns that take seconds and
    hundreds of megabytes merely to compile, in every process.
    """
    for low, high in _COUNTED_REPEAT.findall(pattern):
        if any(bound and int(bound) > MAX_REPEAT for bound in (low, high)):
            raise ValueError(f"Repeat counts above {MAX_REPEAT} are not allowed (found {{{low},{high}}}).")
    try:
        return regex.compile(pattern, regex.IGNORECASE | regex.VERSION0)
    except (regex.error, OverflowError, RecursionError, MemoryError, ValueError) as problem:
        raise ValueError(f"Not a valid regular expression: {problem}") from problem


def split_list(value: str) -> list[str]:
    """'refund, broken screen ,,' -> ['refund', 'broken screen']."""
    return [item.strip() for item in value.split(",") if item.strip()]


def compile_keywords(keywords: str) -> re.Pattern | None:
    words = split_list(keywords)
    if not words:
        return None
    alternatives = "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


@dataclass(frozen=True)
class Subject:
    """What the rules look at for one message."""

    text: str
    network: str = ""
    channel_id: int | None = None
    message_type: str = ""
    sentiment: str = ""
    language: str = ""
    influence_band: str = "low"
    tier: str = ""
    is_private: bool = False


@dataclass(frozen=True)
class CompiledRule:
    id: int
    name: str
    channel_id: int | None
    network: str
    message_type: str
    sentiment: str
    keywords: re.Pattern | None
    pattern: regex.Pattern | None
    language: str
    min_influence_band: str
    customer_tier: str
    visibility: str
    set_queue_id: int | None
    set_priority: int | None
    add_labels: tuple[str, ...]
    assign_to_id: int | None
    stop_processing: bool

    @classmethod
    def of(cls, rule: RoutingRule, active_queue_ids: set[int]) -> "CompiledRule":
        return cls(
            id=rule.pk,
            name=rule.name,
            channel_id=rule.channel_id,
            network=rule.network,
            message_type=rule.message_type,
            sentiment=rule.sentiment,
            keywords=compile_keywords(rule.keywords),
            pattern=compile_pattern(rule.pattern) if rule.pattern else None,
            language=rule.language.lower(),
            min_influence_band=rule.min_influence_band,
            customer_tier=rule.customer_tier,
            visibility=rule.visibility,
            set_queue_id=rule.set_queue_id if rule.set_queue_id in active_queue_ids else None,
            set_priority=rule.set_priority,
            add_labels=tuple(split_list(rule.add_labels)),
            assign_to_id=rule.assign_to_id,
            stop_processing=rule.stop_processing,
        )

    def matches(self, subject: Subject, timed_out: list[str], budget: "PatternBudget") -> bool:
        """Whether every condition set holds. A pattern that runs out of time does not match (and is noted)."""
        if self.channel_id is not None and self.channel_id != subject.channel_id:
            return False
        if self.network and self.network != subject.network:
            return False
        if self.message_type and self.message_type != subject.message_type:
            return False
        if self.sentiment and self.sentiment != subject.sentiment:
            return False
        if self.language and self.language != subject.language:
            return False
        if self.min_influence_band and BAND_ORDER[subject.influence_band] < BAND_ORDER[self.min_influence_band]:
            return False
        if self.customer_tier and self.customer_tier != subject.tier:
            return False
        if self.visibility and (self.visibility == RoutingRule.Visibility.PRIVATE) != subject.is_private:
            return False
        if self.keywords is not None and not self.keywords.search(subject.text[:MAX_MATCH_CHARS]):
            return False
        if self.pattern is not None:
            found = budget.search(self.pattern, subject.text[:MAX_MATCH_CHARS])
            if found is None:
                log.warning("Routing rule %s (%r) ran out of time on a message; not matching", self.id, self.name)
                timed_out.append(self.name)
                return False
            if not found:
                return False
        return True


class PatternBudget:
    """Time for pattern searches: PATTERN_TIMEOUT_SECONDS each, PATTERN_BUDGET_SECONDS for a whole batch."""

    def __init__(self, seconds: float = PATTERN_BUDGET_SECONDS):
        self.deadline = time.monotonic() + seconds

    def search(self, pattern: regex.Pattern, text: str) -> bool | None:
        """Whether the pattern is found; None when the time ran out."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            return pattern.search(text, timeout=min(PATTERN_TIMEOUT_SECONDS, left)) is not None
        except TimeoutError:
            return None


@dataclass
class Routing:
    """What the rules decided for one message; None where no rule decided."""

    queue_id: int | None = None
    queue_rule: CompiledRule | None = None
    priority: int | None = None
    labels: list[str] = field(default_factory=list)
    assign_to_id: int | None = None
    matched: list[CompiledRule] = field(default_factory=list)
    timed_out: list[str] = field(default_factory=list)

    @property
    def deciding_rule(self) -> CompiledRule | None:
        return self.queue_rule or (self.matched[0] if self.matched else None)


def route(rules: tuple[CompiledRule, ...], subject: Subject, budget: PatternBudget) -> Routing:
    """Run the rules in order for one message."""
    routing = Routing()
    for rule in rules:
        if not rule.matches(subject, routing.timed_out, budget):
            continue
        routing.matched.append(rule)
        if routing.queue_id is None and rule.set_queue_id is not None:
            routing.queue_id, routing.queue_rule = rule.set_queue_id, rule
        if routing.priority is None and rule.set_priority is not None:
            routing.priority = rule.set_priority
        if routing.assign_to_id is None and rule.assign_to_id is not None:
            routing.assign_to_id = rule.assign_to_id
        routing.labels.extend(label for label in rule.add_labels if label not in routing.labels)
        if rule.stop_processing:
            break
    return routing


@dataclass(frozen=True)
class RoutingConfig:
    """Everything admin-tunable that triage reads, compiled once per change."""

    version: str
    rules: tuple[CompiledRule, ...]
    queue_slugs: dict[int, str]  # active queues only
    queue_names: dict[int, str]
    queue_ids: dict[str, int]
    influence: InfluencePolicy

    def queue_id(self, slug: str) -> int | None:
        return self.queue_ids.get(slug)


_compiled: RoutingConfig | None = None


def config_changed() -> None:
    """Tell every process to recompile (called when a rule, queue or the triage settings change)."""
    cache.set(CONFIG_VERSION_KEY, uuid.uuid4().hex, timeout=None)


def current_config() -> RoutingConfig:
    """The compiled rules, queues and influence policy; recompiled only when they changed (one cache read)."""
    global _compiled
    version = cache.get(CONFIG_VERSION_KEY)
    if version is None:
        version = uuid.uuid4().hex
        if not cache.add(CONFIG_VERSION_KEY, version, timeout=None):
            version = cache.get(CONFIG_VERSION_KEY) or version
    if _compiled is not None and _compiled.version == version:
        return _compiled
    queues = list(Queue.objects.filter(is_active=True).values_list("pk", "slug", "name"))
    active = {pk for pk, _, _ in queues}
    rules = []
    for rule in RoutingRule.objects.filter(is_active=True).order_by("position", "id"):
        try:
            rules.append(CompiledRule.of(rule, active))
        except ValueError as problem:  # saved before validation existed, or edited in the database
            log.error("Routing rule %s (%r) is skipped: %s", rule.pk, rule.name, problem)
    _compiled = RoutingConfig(
        version=version,
        rules=tuple(rules),
        queue_slugs={pk: slug for pk, slug, _ in queues},
        queue_names={pk: name for pk, _, name in queues},
        queue_ids={slug: pk for pk, slug, _ in queues},
        influence=InfluencePolicy.from_settings(TriageSettings.load()),
    )
    return _compiled
