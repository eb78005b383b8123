"""Mentions in: store each once, tie it to its customer and conversation, and send it to triage."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from customers.models import Customer, Tier
from customers.services import resolve_authors
from inbox.mentions import IncomingMention
from inbox.models import Channel, Conversation, Event, Message, Status
from inbox.services.conversations import SLA_FIELDS, STATUS_FIELDS, refresh_sla
from inbox.tasks import triage_messages
from socialcrm.db import update_rows
from triage.language import detect_language


@dataclass(frozen=True)
class IngestedMessage:
    external_id: str
    id: int
    conversation_id: int
    duplicate: bool


@dataclass(frozen=True)
class IngestResult:
    messages: list[IngestedMessage]

    @property
    def accepted(self) -> int:
        return sum(not m.duplicate for m in self.messages)

    @property
    def duplicates(self) -> int:
        return sum(m.duplicate for m in self.messages)


# Statuses a new message from the customer brings back to "open".
_WOKEN_BY_CUSTOMER = frozenset({Status.PENDING, Status.SNOOZED, Status.RESOLVED})


_TRIAGE_CHUNK = 500


def ingest(*, channel: Channel, mentions: Sequence[IncomingMention]) -> IngestResult:
    """Store a batch of mentions from one channel, each exactly once, threaded, tied to its customer.

    In one transaction: authors resolve to identities and customers; a mention whose external id
    the channel already has (or that repeats one earlier in the batch) is a duplicate and changes
    nothing; each new one joins the conversation it replies to, else its author's open conversation
    on the channel, else their conversation resolved within the channel's reopen window (which
    reopens), else a new one. Creating and reopening conversations is recorded as Events (a message
    is its own record of arrival). After commit, triage is enqueued for the new messages. A fixed number
    of queries per batch. Batches on one channel are serialised, so concurrent deliveries of the
    same mention store it once and never fail.
    """
    now = timezone.now()
    with transaction.atomic():
        channel = (
            Channel.objects.select_related("default_queue__sla_policy", "default_queue__calendar")
            .select_for_update(of=("self",))
            .get(pk=channel.pk)
        )
        unique, first_seen = [], set()
        for mention in mentions:  # the first copy of each external id wins, in the order sent
            if mention.external_id not in first_seen:
                first_seen.add(mention.external_id)
                unique.append(mention)
        known = {
            external_id: (pk, conversation_id)
            for external_id, pk, conversation_id in Message.objects.filter(
                channel=channel, external_id__in=[m.external_id for m in unique]
            ).values_list("external_id", "pk", "conversation_id")
        }
        fresh = [m for m in unique if m.external_id not in known]
        if fresh:
            stored = _store_fresh(channel=channel, mentions=fresh, now=now)
            known.update(stored)
            new_ids = [stored[m.external_id][0] for m in fresh]
            for start in range(0, len(new_ids), _TRIAGE_CHUNK):
                triage_messages.delay_on_commit(new_ids[start : start + _TRIAGE_CHUNK])
    fresh_ids = {m.external_id for m in fresh}
    seen: set[str] = set()
    results = []
    for mention in mentions:
        pk, conversation_id = known[mention.external_id]
        duplicate = mention.external_id not in fresh_ids or mention.external_id in seen
        seen.add(mention.external_id)
        results.append(IngestedMessage(mention.external_id, pk, conversation_id, duplicate))
    return IngestResult(results)


def _store_fresh(*, channel: Channel, mentions: list[IncomingMention], now) -> dict[str, tuple[int, int]]:
    identities = resolve_authors(network=channel.network, authors=[m.author for m in mentions])
    reply_targets = dict(
        Message.objects.filter(
            channel=channel, external_id__in={m.in_reply_to for m in mentions if m.in_reply_to}
        ).values_list("external_id", "conversation_id")
    )
    customer_ids = {identity.customer_id for identity in identities.values()}
    reopen_after = now - timedelta(hours=channel.reopen_window_hours)
    candidates = (
        Conversation.objects.filter(
            Q(pk__in=set(reply_targets.values()))
            | Q(channel=channel, customer_id__in=customer_ids)
            & (~Q(status=Status.RESOLVED) | Q(resolved_at__gte=reopen_after))
        )
        .select_related("queue__sla_policy", "queue__calendar")
        .order_by("-last_message_at", "-pk")
    )
    by_id: dict[int, Conversation] = {}
    open_for: dict[int, Conversation] = {}
    resolved_for: dict[int, Conversation] = {}
    for conversation in candidates:
        by_id[conversation.pk] = conversation
        if conversation.channel_id != channel.pk:
            continue
        target = resolved_for if conversation.status == Status.RESOLVED else open_for
        target.setdefault(conversation.customer_id, conversation)

    tiers = _Tiers({c.customer_id for c in by_id.values()} | customer_ids)
    created: list[Conversation] = []
    clocks_moved: dict[int, Conversation] = {}
    events: list[Event] = []
    thread_of: dict[str, Conversation] = {}
    messages: list[Message] = []
    for mention in mentions:
        identity = identities[mention.author.external_id]
        customer_id = identity.customer_id
        posted_at = mention.posted_at or now
        conversation = None
        if mention.in_reply_to:
            conversation = thread_of.get(mention.in_reply_to) or by_id.get(reply_targets.get(mention.in_reply_to))
        if conversation is None:
            conversation = open_for.get(customer_id) or resolved_for.get(customer_id)
        if conversation is None:
            conversation = Conversation(
                customer_id=customer_id,
                channel=channel,
                queue=channel.default_queue,
                is_private=mention.private,
                subject=mention.subject[:255],
                created_at=now,
                awaiting_since=now,
                last_message_at=posted_at,
            )
            refresh_sla(conversation, tier=tiers.of(conversation))
            created.append(conversation)
            open_for[customer_id] = conversation
        else:
            if conversation.status in _WOKEN_BY_CUSTOMER:
                old = conversation.status
                conversation.move_to(Status.OPEN, now=now)
                events.append(
                    Event(
                        kind=Event.Kind.STATUS_CHANGED,
                        conversation=conversation,
                        customer_id=conversation.customer_id,
                        data={"old": old, "new": Status.OPEN, "reason": "the customer wrote again"},
                    )
                )
                open_for[conversation.customer_id] = conversation
                clocks_moved[id(conversation)] = conversation
            if conversation.awaiting_since is None:  # it writes again after an answer: a next response is owed
                conversation.awaiting_since = now
                clocks_moved[id(conversation)] = conversation
        if posted_at >= conversation.last_message_at:
            conversation.last_message_at = max(conversation.last_message_at, posted_at)
            conversation.snippet = mention.text[:200]
        thread_of[mention.external_id] = conversation
        messages.append(
            Message(
                channel=channel,
                conversation=conversation,
                external_id=mention.external_id,
                direction=Message.Direction.INBOUND,
                is_private=mention.private,
                author=identity,
                text=mention.text,
                language=detect_language(mention.text),
                url=mention.url,
                in_reply_to_external_id=mention.in_reply_to,
                posted_at=posted_at,
                raw_payload=mention.raw,
            )
        )

    Conversation.objects.bulk_create(created)
    _follow_merges(created)
    created_ids = {id(c) for c in created}
    touched = [c for c in {id(c): c for c in thread_of.values()}.values() if id(c) not in created_ids]
    for conversation in touched:
        conversation.updated_at = now
        if id(conversation) in clocks_moved:
            refresh_sla(conversation, tier=tiers.of(conversation))
    update_rows(touched, [*STATUS_FIELDS, *SLA_FIELDS, "last_message_at", "snippet", "updated_at"])
    Message.objects.bulk_create(messages)
    events += [
        Event(kind=Event.Kind.CONVERSATION_CREATED, conversation=c, customer_id=c.customer_id, data={}) for c in created
    ]
    Event.objects.bulk_create(events)
    # Not published here: triage, a moment later, publishes the row once with its queue and labels (or,
    # when triage fails, the row as stored: inbox.services.triage.triage_messages).
    # Publishing here too doubled the frames per socket and held up the ingest request: at 50 mentions/s
    # to 100 sockets that took 202 -> fragment from p95 0.28 s to 11.7 s (make bench-live).
    return {m.external_id: (m.pk, m.conversation.pk) for m in messages}


class _Tiers:
    """The customers' tiers for the SLA policies that narrow by tier: one query, made only if one asks."""

    def __init__(self, customer_ids: set[int]):
        self.customer_ids, self.known = customer_ids, None

    def of(self, conversation: Conversation) -> str:
        if not conversation.queue_id or conversation.queue.sla_policy_id is None:
            return Tier.STANDARD
        if self.known is None:
            self.known = dict(Customer.objects.filter(pk__in=self.customer_ids).values_list("pk", "tier"))
        return self.known.get(conversation.customer_id, Tier.STANDARD)


def _follow_merges(conversations: list[Conversation]) -> None:
    """Move new conversations whose customer was merged away while this batch was being stored.

    The insert waited for the merge's lock on that customer, so this statement sees the merge.
    """
    if not conversations:
        return
    moved = dict(
        Conversation.objects.filter(
            pk__in=[c.pk for c in conversations], customer__merged_into__isnull=False
        ).values_list("pk", "customer__merged_into_id")
    )
    for conversation in conversations:
        if conversation.pk in moved:
            conversation.customer_id = moved[conversation.pk]
            Conversation.objects.filter(pk=conversation.pk).update(customer_id=conversation.customer_id)
