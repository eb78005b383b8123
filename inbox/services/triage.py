"""Triage applied to the inbox: decide for stored messages, route their conversations, take agents' corrections."""

import logging
from collections import defaultdict

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from inbox import live
from inbox.models import Conversation, Event, Label, Message
from inbox.services.conversations import CLOCK_RELATED, SLA_FIELDS, record_event, refresh_sla
from socialcrm.db import update_rows
from socialcrm.errors import Refused
from triage.models import ClassifierVersion, Correction, Queue, TriageDecision
from triage.pipeline import Decision, Item, decide
from triage.scoring import Author
from triage.services import retrain_if_due

log = logging.getLogger(__name__)

_UNTRIAGED = (Message.TriageState.QUEUED, Message.TriageState.WAITING)


BATCH_LIMIT = 1000


SENTIMENT_SCORE_OF = {"negative": -1.0, "neutral": 0.0, "positive": 1.0}


def triage_messages(*, message_ids: list[int], take_up_to: int = BATCH_LIMIT) -> int:
    """Classify and route stored messages; when that fails, their conversations are still shown live.

    Ingest publishes nothing: triage, a moment later, publishes each row once with its queue and
    labels. So that a mention whose triage fails (a classifier's bug, the database going away) still
    reaches the agents' lists, a failure publishes the rows as stored before it is raised (the task
    retries, the sweep takes the messages up again).
    """
    try:
        return _triage(message_ids, take_up_to)
    except Exception:
        _show_untriaged(message_ids)
        raise


def _show_untriaged(message_ids: list[int]) -> None:
    try:
        untriaged = Message.objects.filter(pk__in=message_ids, triage_state__in=_UNTRIAGED)
        live.publish(set(untriaged.values_list("conversation_id", flat=True)))
    except Exception:  # the failure being raised says more than this one
        log.exception("live: the conversations of %d untriaged messages not published", len(message_ids))


def _triage(message_ids: list[int], take_up_to: int) -> int:
    """Classify and route stored messages that are not triaged yet; returns how many were triaged.

    Besides the messages named, it takes up other untriaged ones, oldest first, up to `take_up_to`
    in all: in a storm each task then triages a large batch (far cheaper per message than many
    small ones) and the tasks that follow find their messages done. The work of deciding happens
    outside the transaction; inside, only rows still untriaged (and not locked by another worker)
    are written, so running it twice changes nothing already decided. A conversation takes its
    queue from its first triaged message; later messages can only raise its priority, add labels,
    and update its sentiment.
    """
    untriaged = Message.objects.filter(triage_state__in=_UNTRIAGED)
    wanted = list(untriaged.filter(pk__in=message_ids).values_list("pk", flat=True)[:take_up_to])
    if wanted and len(wanted) < take_up_to:
        wanted += (
            untriaged.exclude(pk__in=wanted)
            .order_by("received_at")  # the message_triage_backlog index
            .values_list("pk", flat=True)[: take_up_to - len(wanted)]
        )
    messages = list(
        Message.objects.filter(pk__in=wanted, triage_state__in=_UNTRIAGED)
        .select_related("author", "conversation__customer", "channel")
        .order_by("pk")
    )
    now = timezone.now()
    outbound = [m.pk for m in messages if m.direction == Message.Direction.OUTBOUND]
    if outbound:
        Message.objects.filter(pk__in=outbound, triage_state__in=_UNTRIAGED).update(
            triage_state=Message.TriageState.SKIPPED, processed_at=now
        )
    inbound = [m for m in messages if m.direction == Message.Direction.INBOUND]
    if not inbound:
        return 0
    decisions = dict(zip([m.pk for m in inbound], decide(_items(inbound)), strict=True))
    with transaction.atomic():
        mine = set(
            Message.objects.select_for_update(skip_locked=True)
            .filter(pk__in=decisions, triage_state__in=_UNTRIAGED)
            .values_list("pk", flat=True)
        )
        chosen = [m for m in inbound if m.pk in mine]
        if not chosen:
            return 0
        TriageDecision.objects.bulk_create([_decision_row(m, decisions[m.pk]) for m in chosen])
        Message.objects.filter(pk__in=mine).update(triage_state=Message.TriageState.TRIAGED, processed_at=now)
        _apply_to_conversations(chosen, decisions, now=now)
    return len(chosen)


def _items(messages: list[Message]) -> list[Item]:
    customer_ids = {m.conversation.customer_id for m in messages}
    past = dict(
        Conversation.objects.filter(customer_id__in=customer_ids)
        .values("customer_id")
        .annotate(n=Count("pk"))
        .values_list("customer_id", "n")
    )
    items = []
    for message in messages:
        customer, identity = message.conversation.customer, message.author
        items.append(
            Item(
                text=message.text,
                network=message.channel.network,
                channel_id=message.channel_id,
                is_private=message.is_private,
                default_queue_id=message.channel.default_queue_id,
                author=Author(
                    followers=identity.followers if identity else 0,
                    verified=identity.verified if identity else False,
                    tier=customer.tier,
                    lifetime_value=float(customer.lifetime_value),
                    past_conversations=max(past.get(customer.pk, 1) - 1, 0),
                ),
            )
        )
    return items


def _decision_row(message: Message, decision: Decision) -> TriageDecision:
    return TriageDecision(
        message=message,
        message_type=decision.message_type,
        sentiment=decision.sentiment,
        sentiment_score=decision.sentiment_score,
        language=decision.language,
        influence=decision.influence,
        influence_band=decision.influence_band,
        action_needed=decision.action_needed,
        priority=decision.priority,
        queue_id=decision.queue_id,
        labels=decision.labels,
        scores=decision.scores,
        matched_rule_id=decision.rule_id,
        model_version_id=decision.models_used.get(ClassifierVersion.Task.QUEUE),
        models_used=decision.models_used,
        explanation=decision.explanation,
    )


def _apply_to_conversations(messages: list[Message], decisions: dict[int, Decision], *, now) -> None:
    by_conversation: dict[int, list[Message]] = defaultdict(list)
    for message in messages:
        by_conversation[message.conversation_id].append(message)
    conversations = {
        c.pk: c
        for c in Conversation.objects.select_for_update(of=("self",))
        .select_related(*CLOCK_RELATED, "channel")
        .filter(pk__in=by_conversation)
        .order_by("pk")  # one lock order for every worker: no deadlocks
    }
    routed_before = set(
        TriageDecision.objects.filter(message__conversation_id__in=by_conversation)
        .exclude(message_id__in=[m.pk for m in messages])
        .values_list("message__conversation_id", flat=True)
    )
    queues = {
        q.pk: q
        for q in Queue.objects.select_related("sla_policy", "calendar").filter(
            pk__in={d.queue_id for d in decisions.values()}
        )
    }
    assignees = set(
        get_user_model()
        .objects.filter(pk__in={d.assign_to_id for d in decisions.values() if d.assign_to_id}, is_active=True)
        .values_list("pk", flat=True)
    )
    labels_wanted: dict[int, set[str]] = defaultdict(set)
    events, changed = [], []
    for conversation_id, in_order in by_conversation.items():
        conversation = conversations[conversation_id]
        old_queue_id, old_priority = conversation.queue_id, conversation.priority
        for message in sorted(in_order, key=lambda m: (m.posted_at, m.pk)):
            decision = decisions[message.pk]
            first = conversation_id not in routed_before
            routed_before.add(conversation_id)
            # Triage routes a conversation once, and only one still where ingest put it: a queue chosen
            # by a person (a move before triage ran, or history from before triage existed) stands.
            if first and conversation.queue_id in (None, conversation.channel.default_queue_id):
                if decision.queue_id is not None:
                    conversation.queue = queues[decision.queue_id]
                conversation.message_type = decision.message_type
                conversation.priority = decision.priority
            else:
                conversation.priority = max(conversation.priority, decision.priority)
                if conversation.message_type == "other":
                    conversation.message_type = decision.message_type
            conversation.sentiment = decision.sentiment
            if (
                decision.assign_to_id in assignees
                and conversation.assignee_id is None
                and conversation.status != "resolved"
            ):
                conversation.assignee_id = decision.assign_to_id
            labels_wanted[conversation_id].update(decision.labels)
            events.append(
                Event(
                    kind=Event.Kind.TRIAGED,
                    conversation=conversation,
                    customer_id=conversation.customer_id,
                    data={"message": message.pk, "queue": decision.queue_slug, "explanation": decision.explanation},
                )
            )
        if (conversation.queue_id, conversation.priority) != (old_queue_id, old_priority):
            refresh_sla(conversation)
        conversation.updated_at = now
        changed.append(conversation)
    update_rows(
        changed,
        [
            "queue",
            "priority",
            "message_type",
            "sentiment",
            "assignee",
            *SLA_FIELDS,
            "updated_at",
        ],
    )
    Event.objects.bulk_create(events)
    _add_labels(labels_wanted)
    live.send_on_commit(conversations.values())


def _add_labels(wanted: dict[int, set[str]]) -> None:
    names = set().union(*wanted.values()) if wanted else set()
    if not names:
        return
    Label.objects.bulk_create([Label(name=name[:50]) for name in names], ignore_conflicts=True)
    ids = dict(Label.objects.filter(name__in=[n[:50] for n in names]).values_list("name", "pk"))
    through = Conversation.labels.through
    through.objects.bulk_create(
        [
            through(conversation_id=conversation_id, label_id=ids[name[:50]])
            for conversation_id, labels in wanted.items()
            for name in labels
        ],
        ignore_conflicts=True,
    )


@transaction.atomic
def change_queue(*, conversation: Conversation, queue: Queue, by) -> Conversation:
    """Move a conversation to another queue; when triage had routed it, the move teaches the router."""
    conversation = (
        Conversation.objects.select_for_update(of=("self",)).select_related(*CLOCK_RELATED).get(pk=conversation.pk)
    )
    if not queue.is_active:
        raise Refused(f"The {queue.name} queue is closed.")
    old = conversation.queue
    if old is not None and old.pk == queue.pk:
        return conversation
    conversation.queue = queue
    conversation.save(update_fields=["queue", *refresh_sla(conversation), "updated_at"])
    record_event(
        kind=Event.Kind.QUEUE_CHANGED, actor=by, conversation=conversation, old=old.slug if old else "", new=queue.slug
    )
    if TriageDecision.objects.filter(message__conversation=conversation).exists():
        _record_correction(
            conversation=conversation,
            message=None,
            field=Correction.Field.QUEUE,
            old=old.slug if old else "",
            new=queue.slug,
            by=by,
        )
    live.send_on_commit([conversation])
    return conversation


@transaction.atomic
def correct_message(*, message: Message, message_type: str | None = None, sentiment: str | None = None, by):
    """An agent says what a message really is; the decision shows it and the router learns from it."""
    decision = TriageDecision.objects.select_for_update().filter(message=message).first()
    if decision is None:
        raise Refused("This message has not been triaged yet.")
    changes = []
    if message_type and message_type != decision.message_type:
        changes.append((Correction.Field.TYPE, decision.message_type, message_type))
        decision.message_type = message_type
    if sentiment and sentiment != decision.sentiment:
        changes.append((Correction.Field.SENTIMENT, decision.sentiment, sentiment))
        decision.sentiment = sentiment
    if not changes:
        return decision
    if sentiment and any(field == Correction.Field.SENTIMENT for field, _, _ in changes):
        # A person's label is certain: the score says so rather than keep the model's contrary guess.
        decision.sentiment_score = SENTIMENT_SCORE_OF[sentiment]
    was = ", ".join(old for _, old, _ in changes)
    who = by.get_full_name() or by.get_username() if by else "an agent"
    decision.explanation = f"corrected by {who} (triage said {was}); {decision.explanation}"[:500]
    decision.save(update_fields=["message_type", "sentiment", "sentiment_score", "explanation"])
    conversation = message.conversation
    latest_inbound = (
        Message.objects.filter(conversation=conversation, direction=Message.Direction.INBOUND)
        .order_by("-posted_at", "-pk")
        .values_list("pk", flat=True)
        .first()
    )
    fields = []
    if (
        message_type
        and not Message.objects.filter(
            conversation=conversation, direction=Message.Direction.INBOUND, posted_at__lt=message.posted_at
        ).exists()
    ):
        conversation.message_type = message_type
        fields.append("message_type")
    if sentiment and latest_inbound == message.pk:
        conversation.sentiment = sentiment
        fields.append("sentiment")
    if fields:
        conversation.save(update_fields=[*fields, "updated_at"])
        live.send_on_commit([conversation])
    for field, old, new in changes:
        _record_correction(conversation=conversation, message=message, field=field, old=old, new=new, by=by)
    return decision


def _record_correction(*, conversation, message, field: str, old: str, new: str, by) -> Correction:
    correction = Correction.objects.create(
        conversation=conversation, message=message, field=field, old_value=old, new_value=new, corrected_by=by
    )
    # robust: a broker that is down must not turn a saved correction into an error page
    transaction.on_commit(retrain_if_due, robust=True)
    return correction
