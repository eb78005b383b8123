"""The verbs that change the inbox. Each validates, writes in a transaction and records an Event."""

import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from customers.models import Customer
from customers.services import resolve_authors
from inbox import live
from inbox.mentions import IncomingMention
from inbox.models import Channel, Conversation, Event, Message, Note, Status
from socialcrm.db import update_rows
from triage.models import Priority, Queue
from triage.tasks import triage_messages

logger = logging.getLogger(__name__)


def record_event(
    *,
    kind: str,
    actor=None,
    conversation: Conversation | None = None,
    customer: Customer | None = None,
    **data,
) -> Event:
    """Append one entry to the audit trail; a conversation's change goes out live after commit."""
    customer_id = customer.pk if customer else (conversation.customer_id if conversation else None)
    if conversation is not None:
        live.changed([conversation.pk])
    return Event.objects.create(kind=kind, actor=actor, conversation=conversation, customer_id=customer_id, data=data)


@transaction.atomic
def change_status(
    *, conversation: Conversation, status: str, by=None, snoozed_until: datetime | None = None
) -> Conversation:
    """Move a conversation to another status, if the allowed transitions permit it.

    Resolving stamps resolved_at; reopening clears it. Snoozing needs a wake-up time in the future.
    `by` is the user making the change, or None for the system.
    """
    conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
    old = conversation.status
    conversation.move_to(status, now=timezone.now(), snoozed_until=snoozed_until)
    conversation.save(update_fields=["status", "snoozed_until", "resolved_at", "updated_at"])
    record_event(
        kind=Event.Kind.STATUS_CHANGED,
        actor=by,
        conversation=conversation,
        old=old,
        new=status,
        **({"snoozed_until": snoozed_until.isoformat()} if status == Status.SNOOZED else {}),
    )
    return conversation


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
NOTE_MAX_LENGTH = 10_000
DELIVERY_ATTEMPTS = 5
# How long the task waits before each further try: 30 s, 1, 2 and 4 minutes.
RETRY_BACKOFF = tuple(timedelta(seconds=30 * 2**n) for n in range(DELIVERY_ATTEMPTS - 1))
# A reply still queued this long after its last change lost its task (a worker or the broker went away).
QUEUED_TOO_LONG = sum(RETRY_BACKOFF, timedelta()) + timedelta(minutes=2)
# Longer than one send can take (the senders' timeouts, EMAIL_TIMEOUT, the task's time limit): a reply
# still "sending" after this lost its worker in the middle of the call.
SEND_TIMEOUT = timedelta(minutes=5)


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
            Channel.objects.select_related("default_queue__sla_policy")
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


def sla_due_times(queue: Queue | None, *, start: datetime, priority: int = Priority.NORMAL) -> dict:
    """When the first reply and the resolution fall due under the queue's SLA policy (none without one)."""
    policy = queue.sla_policy if queue else None
    if policy is None:
        return {"first_response_due_at": None, "resolution_due_at": None}
    factor = policy.urgent_factor if priority == Priority.URGENT else 1.0
    return {
        "first_response_due_at": start + timedelta(minutes=policy.first_response_minutes * factor),
        "resolution_due_at": start + timedelta(minutes=policy.resolution_minutes * factor),
    }


def recompute_sla(conversation: Conversation) -> list[str]:
    """Due times again from the conversation's queue and priority (after either changed). Does not save.

    A first reply already given keeps its due time as history. Returns the fields changed.
    """
    due = sla_due_times(conversation.queue, start=conversation.created_at, priority=conversation.priority)
    if conversation.first_response_at is None:
        conversation.first_response_due_at = due["first_response_due_at"]
    conversation.resolution_due_at = due["resolution_due_at"]
    return ["first_response_due_at", "resolution_due_at"]


def _store_fresh(*, channel: Channel, mentions: list[IncomingMention], now) -> dict[str, tuple[int, int]]:
    identities = resolve_authors(network=channel.network, authors=[m.author for m in mentions])
    reply_targets = dict(
        Message.objects.filter(
            channel=channel, external_id__in={m.in_reply_to for m in mentions if m.in_reply_to}
        ).values_list("external_id", "conversation_id")
    )
    customer_ids = {identity.customer_id for identity in identities.values()}
    reopen_after = now - timedelta(hours=channel.reopen_window_hours)
    candidates = Conversation.objects.filter(
        Q(pk__in=set(reply_targets.values()))
        | Q(channel=channel, customer_id__in=customer_ids)
        & (~Q(status=Status.RESOLVED) | Q(resolved_at__gte=reopen_after))
    ).order_by("-last_message_at", "-pk")
    by_id: dict[int, Conversation] = {}
    open_for: dict[int, Conversation] = {}
    resolved_for: dict[int, Conversation] = {}
    for conversation in candidates:
        by_id[conversation.pk] = conversation
        if conversation.channel_id != channel.pk:
            continue
        target = resolved_for if conversation.status == Status.RESOLVED else open_for
        target.setdefault(conversation.customer_id, conversation)

    created: list[Conversation] = []
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
                last_message_at=posted_at,
                **sla_due_times(channel.default_queue, start=now),
            )
            created.append(conversation)
            open_for[customer_id] = conversation
        elif conversation.status in _WOKEN_BY_CUSTOMER:
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
    update_rows(touched, ["status", "resolved_at", "snoozed_until", "last_message_at", "snippet", "updated_at"])
    Message.objects.bulk_create(messages)
    events += [
        Event(kind=Event.Kind.CONVERSATION_CREATED, conversation=c, customer_id=c.customer_id, data={}) for c in created
    ]
    Event.objects.bulk_create(events)
    # Not published here: triage, a moment later, publishes the row once with its queue and labels.
    # Publishing here too doubled the frames per socket and held up the ingest request: at 50 mentions/s
    # to 100 sockets that took 202 -> fragment from p95 0.28 s to 11.7 s (make bench-live).
    return {m.external_id: (m.pk, m.conversation.pk) for m in messages}


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


# What agents do to a conversation --------------------------------------------------------------

WORKABLE = (Status.NEW, Status.OPEN)
_MENTION = re.compile(r"(?<![\w@])@([\w.+-]{1,150})")


def _may_work(agent, conversation: Conversation) -> bool:
    from socialcrm.roles import is_supervisor

    if not agent.is_active:
        return False
    return is_supervisor(agent) or agent.queues.filter(pk=conversation.queue_id, is_active=True).exists()


@transaction.atomic
def assign_conversation(*, conversation: Conversation, agent, by) -> Conversation:
    """Give the conversation to an agent who works its queue (None unassigns). A new one becomes open."""
    conversation = (
        Conversation.objects.select_for_update(of=("self",)).select_related("assignee").get(pk=conversation.pk)
    )
    if agent is not None and not _may_work(agent, conversation):
        raise ValueError(f"{agent.get_full_name() or agent.get_username()} does not work this conversation's queue.")
    old = conversation.assignee
    if (old.pk if old else None) == (agent.pk if agent else None):
        return conversation
    live.changed([conversation.pk], before={conversation.pk: live.groups_for_conversation(conversation)})
    conversation.assignee = agent
    fields = ["assignee", "updated_at"]
    if agent is not None and conversation.status == Status.NEW:
        conversation.move_to(Status.OPEN, now=timezone.now())
        fields += ["status", "snoozed_until", "resolved_at"]
    conversation.save(update_fields=fields)
    record_event(
        kind=Event.Kind.ASSIGNED,
        actor=by,
        conversation=conversation,
        old=old.get_username() if old else "",
        new=agent.get_username() if agent else "",
    )
    return conversation


def get_next(*, agent) -> Conversation | None:
    """Claim the most urgent unassigned conversation in the agent's queues, or None when none waits.

    Atomic: the row is locked with SKIP LOCKED, so agents pressing it at the same moment each get a
    different conversation, and none waits for another's transaction.
    """
    from inbox.selectors import queues_visible_to

    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(queue__in=queues_visible_to(agent).values("pk"), assignee__isnull=True, status__in=WORKABLE)
            .order_by(F("priority").desc(), F("first_response_due_at").asc(nulls_last=True), "created_at", "pk")
            .first()
        )
        if conversation is None:
            return None
        conversation.assignee = agent
        if conversation.status == Status.NEW:
            conversation.move_to(Status.OPEN, now=timezone.now())
        conversation.save(update_fields=["assignee", "status", "snoozed_until", "resolved_at", "updated_at"])
        record_event(
            kind=Event.Kind.ASSIGNED,
            actor=agent,
            conversation=conversation,
            old="",
            new=agent.get_username(),
            via="get next",
        )
    return conversation


@transaction.atomic
def add_note(*, conversation: Conversation, author, text: str) -> Note:
    """An internal note; @username mentions colleagues who may see the conversation (others are ignored)."""
    from django.contrib.auth import get_user_model

    from inbox.selectors import conversations_visible_to

    text = text.strip()
    if not text:
        raise ValueError("A note needs some text.")
    if "\x00" in text:
        raise ValueError("The note contains a NUL character; paste it again as plain text.")
    if len(text) > NOTE_MAX_LENGTH:
        raise ValueError(f"A note holds at most {NOTE_MAX_LENGTH:,} characters.")
    note = Note.objects.create(conversation=conversation, author=author, text=text)
    named = {name.rstrip(".").lower() for name in _MENTION.findall(text)}
    colleagues = []
    if named:
        User = get_user_model()
        by_name = Q()
        for name in sorted(named)[:20]:
            by_name |= Q(**{f"{User.USERNAME_FIELD}__iexact": name})
        colleagues = [
            user
            for user in User.objects.filter(by_name, is_active=True).exclude(pk=author.pk)
            if conversations_visible_to(user).filter(pk=conversation.pk).exists()
        ]
    note.mentions.set(colleagues)
    for colleague in colleagues:
        transaction.on_commit(lambda pk=colleague.pk: _tell_mentioned(pk, conversation, author), robust=True)
    record_event(
        kind=Event.Kind.NOTE_ADDED,
        actor=author,
        conversation=conversation,
        note=note.pk,
        mentions=[user.get_username() for user in colleagues],
    )
    return note


def _tell_mentioned(user_id: int, conversation: Conversation, author) -> None:
    from django.utils.html import escape

    from socialcrm.formatting import person

    who = escape(person(author))
    live.notify_user(
        user_id,
        "mention",
        f'<p data-conversation="{conversation.pk}" data-url="/inbox/conversations/{conversation.pk}/">'
        f"{who} mentioned you on #{conversation.pk} ({escape(str(conversation.customer))})</p>",
    )


def wake_snoozed(*, now: datetime | None = None) -> int:
    """Reopen snoozed conversations whose wake-up time has come; returns how many woke."""
    now = now or timezone.now()
    woken = 0
    for pk in Conversation.objects.filter(status=Status.SNOOZED, snoozed_until__lte=now).values_list("pk", flat=True):
        with transaction.atomic():
            conversation = (
                Conversation.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=Status.SNOOZED, snoozed_until__lte=now)
                .first()
            )
            if conversation is None:
                continue
            conversation.move_to(Status.OPEN, now=now)
            conversation.save(update_fields=["status", "snoozed_until", "resolved_at", "updated_at"])
            record_event(kind=Event.Kind.STATUS_CHANGED, conversation=conversation, old=Status.SNOOZED, new=Status.OPEN)
            woken += 1
    return woken


@transaction.atomic
def reply(*, conversation: Conversation, text: str, private: bool, by, key: uuid.UUID | None = None) -> Message:
    """Answer the customer on the conversation's own channel; a task sends it after commit.

    The reply answers the customer's latest message (as a comment reply, a reply tweet, a DM, or an
    e-mail in the same thread). The first reply stamps first_response_at; a new conversation becomes
    open and, if nobody had it, the replier's.

    `key` names the reply (the Send form carries a fresh one each time it is drawn). A key the
    conversation already has a reply for returns that reply and changes nothing, so a Send clicked
    twice, or two requests racing, make one reply; the same key with other text is refused rather
    than dropped. Replies in one conversation are serialised on its row, and the database holds one
    reply per key and conversation.
    """
    from inbox.senders import length_limit
    from inbox.tasks import deliver_reply

    conversation = (
        Conversation.objects.select_for_update(of=("self",)).select_related("channel").get(pk=conversation.pk)
    )
    text = text.strip()
    if key is not None:
        already = Message.objects.filter(conversation=conversation, idempotency_key=key).first()
        if already is not None and already.text != text:
            raise ValueError("This form was already sent as another reply; open the conversation again to send more.")
        if already is not None:
            return already
    limit = length_limit(conversation.channel)
    if not text:
        raise ValueError("A reply needs some text.")
    if "\x00" in text:
        raise ValueError("The reply contains a NUL character; paste it again as plain text.")
    if len(text) > limit:
        raise ValueError(f"{conversation.channel.get_network_display()} takes at most {limit:,} characters.")
    now = timezone.now()
    answering = (
        Message.objects.filter(conversation=conversation, direction=Message.Direction.INBOUND)
        .order_by("-posted_at", "-pk")
        .values_list("external_id", flat=True)
        .first()
    )
    message = Message.objects.create(
        channel=conversation.channel,
        conversation=conversation,
        direction=Message.Direction.OUTBOUND,
        is_private=private,
        sent_by=by,
        text=text,
        in_reply_to_external_id=answering or "",
        posted_at=now,
        triage_state=Message.TriageState.SKIPPED,
        delivery=Message.Delivery.QUEUED,
        delivery_changed_at=now,
        idempotency_key=key or uuid.uuid4(),
    )
    fields = ["last_message_at", "updated_at"]
    conversation.last_message_at = now
    if conversation.first_response_at is None:
        conversation.first_response_at = now
        fields.append("first_response_at")
    if conversation.assignee_id is None:
        conversation.assignee = by
        fields.append("assignee")
    if conversation.status == Status.NEW:
        conversation.move_to(Status.OPEN, now=now)
        fields += ["status", "snoozed_until", "resolved_at"]
    conversation.save(update_fields=fields)
    record_event(kind=Event.Kind.REPLY_SENT, actor=by, conversation=conversation, message=message.pk, private=private)
    deliver_reply.delay_on_commit(message.pk)
    return message


@transaction.atomic
def retry_reply(*, message: Message, by) -> Message:
    """Send a failed reply again (the Send again button), with a fresh set of tries."""
    from inbox.tasks import deliver_reply

    message = Message.objects.select_for_update().get(pk=message.pk)
    if message.delivery != Message.Delivery.FAILED:
        raise ValueError("Only a reply that failed can be sent again.")
    message.delivery, message.delivery_error, message.delivery_attempts = Message.Delivery.QUEUED, "", 0
    message.delivery_changed_at = timezone.now()
    message.save(update_fields=["delivery", "delivery_error", "delivery_attempts", "delivery_changed_at"])
    record_event(
        kind=Event.Kind.REPLY_SENT, actor=by, conversation=message.conversation, message=message.pk, retry=True
    )
    deliver_reply.delay_on_commit(message.pk)
    return message


def deliver(*, message_id: int, client=None, now: datetime | None = None) -> str:
    """One attempt to send a queued reply; returns its delivery state afterwards ("" for no such reply).

    The attempt is claimed first, in a short transaction of its own: the reply becomes "sending",
    committed, before the network is called, and no transaction or row lock is held during the
    call. So a worker killed in the middle leaves the reply "sending", and nothing sends it again
    blindly: while its attempt may still be running (SEND_TIMEOUT) it is left alone; after that
    it is decided as _abandoned says. Each attempt ends in one recorded outcome, and the
    conversation's live event goes out: sent, with the network's id; back to "queued" after a
    passing failure while tries remain (the task tries again); else "failed", with a reason an
    agent can read and the Send again button. Any exception, not only SendError, ends so; one the
    senders did not foresee is logged once, with its traceback.
    """
    from inbox import senders

    now = now or timezone.now()
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("channel", "conversation__customer")
            .filter(pk=message_id, delivery__in=(Message.Delivery.QUEUED, Message.Delivery.SENDING))
            .first()
        )
        if message is None:  # settled, gone, or being claimed by another worker right now
            return Message.objects.filter(pk=message_id).values_list("delivery", flat=True).first() or ""
        if message.delivery == Message.Delivery.SENDING:
            if message.delivery_changed_at and message.delivery_changed_at > now - SEND_TIMEOUT:
                return message.delivery  # its attempt may still be running
            _abandoned(message, now=now)
            if message.delivery != Message.Delivery.QUEUED:
                return message.delivery
        message.delivery, message.delivery_changed_at = Message.Delivery.SENDING, now
        message.delivery_attempts += 1
        message.save(update_fields=["delivery", "delivery_changed_at", "delivery_attempts"])
    external_id = ""
    try:
        external_id = senders.send(message, client=client).external_id
    except senders.SendError as problem:
        if problem.maybe_delivered and not senders.resending_is_harmless(message.channel):
            delivery, error = Message.Delivery.FAILED, f"{problem.reason} {senders.unknown_outcome(message.channel)}"
        elif problem.retryable and message.delivery_attempts < DELIVERY_ATTEMPTS:
            delivery, error = Message.Delivery.QUEUED, problem.reason
        else:
            delivery, error = Message.Delivery.FAILED, problem.reason
    except Exception as problem:
        logger.exception("reply %s on channel %s could not be sent", message.pk, message.channel.slug)
        delivery, error = Message.Delivery.FAILED, f"Sending failed ({type(problem).__name__}: {problem})."
        if not senders.resending_is_harmless(message.channel):
            error = f"{error} {senders.unknown_outcome(message.channel)}"
    else:
        delivery, error = Message.Delivery.SENT, ""
    return _record_outcome(message, delivery=delivery, error=error, external_id=external_id)


def _record_outcome(message: Message, *, delivery: str, error: str, external_id: str) -> str:
    """Save how the attempt ended, if the reply is still its attempt's ("sending"), and say so live."""
    fields = {"delivery": delivery, "delivery_error": error[:500], "delivery_changed_at": timezone.now()}
    if external_id:
        fields["external_id"] = external_id
    with transaction.atomic():
        recorded = Message.objects.filter(pk=message.pk, delivery=Message.Delivery.SENDING).update(**fields)
        if recorded:
            live.changed([message.conversation_id])
    if not recorded:  # only if the call outlived SEND_TIMEOUT and the sweep decided the reply meanwhile
        logger.warning(
            "reply %s was decided while its attempt ran; its outcome (%s) is not recorded", message.pk, delivery
        )
        return Message.objects.filter(pk=message.pk).values_list("delivery", flat=True).first() or ""
    return delivery


def _abandoned(message: Message, *, now: datetime) -> None:
    """Decide a reply left "sending" past SEND_TIMEOUT: its worker died mid-call, so nobody knows
    whether the network has it. Saves.

    Where sending it again makes no second copy (an e-mail keeps its Message-ID; the sandbox sends
    nothing) it goes back to the queue while tries remain. Meta and X take no idempotency key, and
    looking for the reply there would mean matching it by text in listings our token may not read,
    where a wrong "not found" sends it twice: so it fails, saying it may have been delivered, and a
    person checks before pressing Send again.
    """
    from inbox import senders

    if not senders.resending_is_harmless(message.channel):
        _set_delivery(message, Message.Delivery.FAILED, now=now, error=senders.unknown_outcome(message.channel))
    elif message.delivery_attempts >= DELIVERY_ATTEMPTS:
        error = f"The reply was not sent after {DELIVERY_ATTEMPTS} tries; the last was cut off."
        _set_delivery(message, Message.Delivery.FAILED, now=now, error=error)
    else:
        _set_delivery(message, Message.Delivery.QUEUED, now=now)


def _set_delivery(message: Message, delivery: str, *, now: datetime, error: str = "") -> None:
    """Save the reply's new delivery state; a failure goes out live (the pane shows it, with Send again)."""
    message.delivery, message.delivery_error, message.delivery_changed_at = delivery, error[:500], now
    message.save(update_fields=["delivery", "delivery_error", "delivery_changed_at"])
    if delivery == Message.Delivery.FAILED:
        live.changed([message.conversation_id])


def sweep_stuck_replies(*, now: datetime | None = None) -> int:
    """Move on the replies no task will move any more (beat runs this each minute); returns how many.

    A reply queued for longer than QUEUED_TOO_LONG (every retry wait and a margin) lost its task:
    it is enqueued again while tries remain, else it fails, saying why. A reply "sending" for longer
    than SEND_TIMEOUT lost its worker mid-call and is decided as deliver decides it (_abandoned).
    """
    from inbox.tasks import deliver_reply

    now = now or timezone.now()
    unrecorded = Q(delivery_changed_at__isnull=True)  # queued before the time was recorded
    stuck = Q(delivery=Message.Delivery.QUEUED) & (Q(delivery_changed_at__lt=now - QUEUED_TOO_LONG) | unrecorded)
    stuck |= Q(delivery=Message.Delivery.SENDING) & (Q(delivery_changed_at__lt=now - SEND_TIMEOUT) | unrecorded)
    moved = 0
    for pk in Message.objects.filter(stuck).order_by("delivery_changed_at").values_list("pk", flat=True)[:1000]:
        with transaction.atomic():
            message = (
                Message.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("channel")
                .filter(stuck, pk=pk)
                .first()
            )
            if message is None:  # moved on meanwhile
                continue
            if message.delivery == Message.Delivery.SENDING:
                _abandoned(message, now=now)
            elif message.delivery_attempts >= DELIVERY_ATTEMPTS:
                error = f"The reply was not sent after {DELIVERY_ATTEMPTS} tries. {message.delivery_error}"
                _set_delivery(message, Message.Delivery.FAILED, now=now, error=error)
            else:  # enqueued again below; the next sweep gives its task a whole window
                _set_delivery(message, Message.Delivery.QUEUED, now=now, error=message.delivery_error)
            if message.delivery == Message.Delivery.QUEUED:
                deliver_reply.delay_on_commit(message.pk)
            moved += 1
    return moved


_VARIABLE = re.compile(r"\{\{\s*(customer|agent)\.(first_name|name)\s*\}\}")


def fill_canned_reply(body: str, *, conversation: Conversation, agent) -> str:
    """A canned reply's text for this customer and agent: {{ customer.first_name }}, {{ customer.name }},
    {{ agent.first_name }} and {{ agent.name }} are filled in; anything else stays as written.

    Plain substitution, never the template engine: a canned reply cannot reach other data."""
    customer = conversation.customer
    values = {
        ("customer", "first_name"): customer.first_name or "there",
        ("customer", "name"): customer.name or customer.first_name or "there",
        ("agent", "first_name"): (agent.first_name or agent.get_username()) if agent else "",
        ("agent", "name"): (agent.get_full_name() or agent.get_username()) if agent else "",
    }
    return _VARIABLE.sub(lambda match: values[(match.group(1), match.group(2))], body)


@transaction.atomic
def change_priority(*, conversation: Conversation, priority: int, by) -> Conversation:
    """Set the priority; becoming or ceasing to be urgent moves the SLA due times with it."""
    conversation = (
        Conversation.objects.select_for_update(of=("self",)).select_related("queue__sla_policy").get(pk=conversation.pk)
    )
    if priority not in Priority.values:
        raise ValueError("Choose low, normal, high or urgent.")
    old = conversation.priority
    if old == priority:
        return conversation
    conversation.priority = priority
    fields = ["priority", "updated_at"]
    if Priority.URGENT in (old, priority):
        fields += recompute_sla(conversation)
    conversation.save(update_fields=fields)
    record_event(kind=Event.Kind.PRIORITY_CHANGED, actor=by, conversation=conversation, old=old, new=priority)
    return conversation


@transaction.atomic
def set_labels(*, conversation: Conversation, labels, by) -> Conversation:
    """Replace the conversation's labels with these (existing Label rows)."""
    conversation = Conversation.objects.select_for_update(of=("self",)).get(pk=conversation.pk)
    old = sorted(conversation.labels.values_list("name", flat=True))
    new = sorted(label.name for label in labels)
    if old != new:
        conversation.labels.set(labels)
        record_event(kind=Event.Kind.LABELS_CHANGED, actor=by, conversation=conversation, old=old, new=new)
    return conversation
