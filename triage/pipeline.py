"""One function decides triage for a batch: the message task, the preview API, the admin box and triage_eval.

It reads the database only for configuration (compiled rules, active models) and writes nothing.
"""

import re
from dataclasses import dataclass, field

from socialcrm.formatting import compact_number
from triage import classifiers
from triage.language import detect_language
from triage.learning import LoadedModel, Task, active_models
from triage.models import MessageType, Priority, Sentiment
from triage.routing import PatternBudget, Subject, current_config, route
from triage.scoring import Author, action_needed, priority

# A sales lead says it wants to buy: without one of these cues, "lead" gives way to the next best type.
_PURCHASE_CUE = re.compile(
    r"\b(?:buy(?:ing)?|purchas\w*|pric\w*|cost\w*|how much|quot\w*|deals?|offers?|discount\w*|upgrad\w*|"
    r"switch\w*|sign(?:ing)? up|subscri\w*|order(?:ing)? (?:a|an|the|some)|in stock|trade[- ]?in|business account|"
    r"contract (?:ends|is up|renewal)|plans? for|cheaper|interested in|looking for a|want (?:a|to get)|"
    r"new (?:phone|line|contract)|add (?:a|another) line|sales|comprar|precio|oferta|acheter|prix|offre|kaufen|"
    r"preis|angebot|comprare|prezzo|offerta|kopen|prijs|aanbieding|preço|oferta)\b",
    re.IGNORECASE,
)
# Something to read: a letter, a digit, or a pictograph (emoji carry sentiment).
_CONTENT = re.compile(r"[^\W_]|[\u2600-\u27bf\U0001f300-\U0001faff]")
_PLACEHOLDERS = re.compile(r"\bxx(?:url|user)\b")  # links and handles, as classifiers.prepare writes them
_NOTHING = "nothing to read"


@dataclass(frozen=True)
class Item:
    """One message to triage, as the pipeline sees it."""

    text: str
    network: str = ""
    channel_id: int | None = None
    is_private: bool = False
    author: Author = field(default_factory=Author)
    default_queue_id: int | None = None  # the channel's, used when neither rules nor model decide


@dataclass(frozen=True)
class Decision:
    message_type: str
    sentiment: str
    sentiment_score: float
    language: str
    influence: float
    influence_band: str
    action_needed: bool
    priority: int
    queue_id: int | None
    queue_slug: str
    rule_id: int | None
    rule_name: str
    labels: list[str]
    assign_to_id: int | None
    explanation: str
    models_used: dict[str, int | None]
    scores: dict

    @property
    def type_label(self) -> str:
        return MessageType(self.message_type).label

    @property
    def sentiment_label(self) -> str:
        return Sentiment(self.sentiment).label

    @property
    def priority_label(self) -> str:
        return Priority(self.priority).label

    @property
    def model_version(self) -> str:
        """'type:3 queue:5 sentiment:2' (or 'seed' for a model trained in memory): what to quote in a bug report."""
        return " ".join(f"{task}:{version or 'seed'}" for task, version in self.models_used.items())


def decide(items: list[Item]) -> list[Decision]:
    """Triage a batch: vectorise once, run every model on the matrix, then the rules, message by message."""
    if not items:
        return []
    config = current_config()
    models = active_models()
    features = classifiers.featurize([item.text for item in items])
    probabilities = {
        Task.TYPE: models[Task.TYPE].model.predict_proba(features.matrix),
        Task.QUEUE: models[Task.QUEUE].model.predict_proba(features.matrix),
        Task.SENTIMENT: classifiers.sentiment_probabilities(models[Task.SENTIMENT].model, features),
    }
    models_used = {task: models[task].version_id for task in (Task.TYPE, Task.QUEUE, Task.SENTIMENT)}
    budget = PatternBudget()
    decisions = []
    for row, item in enumerate(items):
        readable = bool(_CONTENT.search(_PLACEHOLDERS.sub(" ", features.texts[row])))
        message_type, type_p = _type(models[Task.TYPE], probabilities[Task.TYPE][row], features.texts[row])
        sentiment_row = probabilities[Task.SENTIMENT][row]
        sentiment = classifiers.SENTIMENT_CLASSES[int(sentiment_row.argmax())]
        sentiment_score = round(float(sentiment_row[2] - sentiment_row[0]), 3)  # P(positive) - P(negative)
        if not readable:
            message_type, type_p, sentiment, sentiment_score = MessageType.OTHER, 1.0, Sentiment.NEUTRAL, 0.0
        language = detect_language(item.text)
        influence = config.influence.score(item.author)
        band = config.influence.band(influence)
        needs_reply = action_needed(message_type=message_type, is_private=item.is_private, text=item.text)
        routing = route(
            config.rules,
            Subject(
                text=item.text,
                network=item.network,
                channel_id=item.channel_id,
                message_type=message_type,
                sentiment=sentiment,
                language=language,
                influence_band=band,
                tier=item.author.tier,
                is_private=item.is_private,
            ),
            budget,
        )
        queue_slug, queue_p = _top(models[Task.QUEUE], probabilities[Task.QUEUE][row])
        queue_id = routing.queue_id
        if queue_id is None:
            queue_id = config.queue_id(queue_slug) if readable else None
            queue_id = queue_id or item.default_queue_id
        rule = routing.deciding_rule
        explanation = _explain(
            rule_name=rule.name if rule and routing.queue_rule else "",
            message_type=message_type,
            type_p=type_p,
            sentiment_score=sentiment_score,
            author=item.author,
            readable=readable,
            queue_name=config.queue_names.get(queue_id, ""),
            queue_p=queue_p if routing.queue_id is None and config.queue_id(queue_slug) == queue_id else None,
            top_words=models[Task.QUEUE].model.top_words(features, row, _index(models[Task.QUEUE], queue_slug))
            if routing.queue_id is None and readable
            else [],
            timed_out=routing.timed_out,
        )
        decisions.append(
            Decision(
                message_type=message_type,
                sentiment=sentiment,
                sentiment_score=sentiment_score,
                language=language,
                influence=influence,
                influence_band=band,
                action_needed=needs_reply,
                priority=routing.priority
                if routing.priority is not None
                else priority(
                    message_type=message_type,
                    sentiment=sentiment,
                    sentiment_score=sentiment_score,
                    influence=influence,
                    tier=item.author.tier,
                    action_needed=needs_reply,
                ),
                queue_id=queue_id,
                queue_slug=config.queue_slugs.get(queue_id, ""),
                rule_id=rule.id if rule else None,
                rule_name=rule.name if rule else "",
                labels=routing.labels,
                assign_to_id=routing.assign_to_id,
                explanation=explanation,
                models_used=models_used,
                scores={
                    "type_confidence": round(type_p, 3),
                    "queue_confidence": round(queue_p, 3),
                    "vader_compound": features.vader[row]["compound"],
                    **({"timed_out_rules": routing.timed_out} if routing.timed_out else {}),
                },
            )
        )
    return decisions


def _type(loaded: LoadedModel, row, text: str) -> tuple[str, float]:
    """The most likely type, except that "lead" needs a purchase cue in the text (a lexical rule)."""
    label, probability = _top(loaded, row)
    if label != MessageType.LEAD or _PURCHASE_CUE.search(text):
        return label, probability
    ranked = sorted(zip(loaded.model.classes, row, strict=True), key=lambda pair: -pair[1])
    label, probability = next((c, p) for c, p in ranked if c != MessageType.LEAD)
    return label, float(probability)


def _top(loaded: LoadedModel, row) -> tuple[str, float]:
    best = int(row.argmax())
    return loaded.model.classes[best], float(row[best])


def _index(loaded: LoadedModel, label: str) -> int:
    return loaded.model.classes.index(label)


def _signed(score: float) -> str:
    """+0.8, minus 0.3 (with a real minus sign), and 0.0 rather than minus 0.0."""
    if abs(score) < 0.05:
        return "0.0"
    return f"{score:+.1f}".replace("-", "\u2212")


def _explain(
    *,
    rule_name: str,
    message_type: str,
    type_p: float,
    sentiment_score: float,
    author: Author,
    readable: bool,
    queue_name: str,
    queue_p: float | None,
    top_words: list[str],
    timed_out: list[str],
) -> str:
    """One line an agent can read: who decided (rule or model) and on what evidence."""
    facts = [_NOTHING] if not readable else [f"{message_type} ({type_p:.0%})", f"sentiment {_signed(sentiment_score)}"]
    if author.followers:
        facts.append(f"{compact_number(author.followers)} followers")
    if author.verified:
        facts.append("verified")
    if author.tier and author.tier != "standard":
        facts.append(f"{author.tier} customer")
    if rule_name:
        line = f"rule '{rule_name}': " + ", ".join(facts)
    elif queue_p is not None:
        words = f" from the words {', '.join(repr(word) for word in top_words)}" if top_words else ""
        line = f"model chose {queue_name} ({queue_p:.0%} sure){words}; " + ", ".join(facts)
    elif queue_name:
        line = f"no rule or model decided, so the channel's queue {queue_name}; " + ", ".join(facts)
    else:
        line = "no queue decided; " + ", ".join(facts)
    if timed_out:
        line += f"; rule {', '.join(repr(name) for name in timed_out)} timed out and was skipped"
    return line[:500]
