"""Replies out: queue one on the customer's own channel, deliver it, retry, and sweep up lost sends."""

import logging
import uuid
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from customers.models import Network
from inbox import live, senders
from inbox.models import Conversation, Event, Message, Status
from inbox.senders import length_limit
from inbox.services.conversations import CLOCK_RELATED, STATUS_FIELDS, business_hours, record_event, refresh_sla
from inbox.tasks import DELIVERY_ATTEMPTS, RETRY_BACKOFF, deliver_reply
from socialcrm.errors import Refused
from socialcrm.models import Preferences
from triage import sla
from triage.language import detect_language

logger = logging.getLogger(__name__)

# A reply still queued this long after its last change lost its task (a worker or the broker went away).
QUEUED_TOO_LONG = sum(RETRY_BACKOFF, timedelta()) + timedelta(minutes=2)


# Longer than one send can take (the senders' timeouts, EMAIL_TIMEOUT, the task's time limit): a reply
# still "sending" after this lost its worker in the middle of the call.
SEND_TIMEOUT = timedelta(minutes=5)


@transaction.atomic
def reply(*, conversation: Conversation, text: str, private: bool, by, key: uuid.UUID | None = None) -> Message:
    """Answer the customer on the conversation's own channel; a task sends it after commit.

    The reply answers the customer's latest message (as a comment reply, a reply tweet, a DM, or an
    e-mail in the same thread). It answers the customer's wait, meeting the first-response or the
    next-response clock (triage.sla); a new conversation becomes open and, if nobody had it, the replier's.

    `key` names the reply (the Send form carries a fresh one each time it is drawn). A key the
    conversation already has a reply for returns that reply and changes nothing, so a Send clicked
    twice, or two requests racing, make one reply; the same key with other text is refused rather
    than dropped. Replies in one conversation are serialised on its row, and the database holds one
    reply per key and conversation.
    """

    conversation = (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("channel", *CLOCK_RELATED)
        .get(pk=conversation.pk)
    )
    text = text.strip()
    if text and conversation.channel.network == Network.EMAIL:
        text = with_signature(text, by)
    if key is not None:
        already = Message.objects.filter(conversation=conversation, idempotency_key=key).first()
        if already is not None and already.text != text:
            raise Refused("This form was already sent as another reply; open the conversation again to send more.")
        if already is not None:
            return already
    limit = length_limit(conversation.channel)
    if not text:
        raise Refused("A reply needs some text.")
    if "\x00" in text:
        raise Refused("The reply contains a NUL character; paste it again as plain text.")
    if len(text) > limit:
        raise Refused(f"{conversation.channel.get_network_display()} takes at most {limit:,} characters.")
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
        language=detect_language(text),
        in_reply_to_external_id=answering or "",
        posted_at=now,
        triage_state=Message.TriageState.SKIPPED,
        delivery=Message.Delivery.QUEUED,
        delivery_changed_at=now,
        idempotency_key=key or uuid.uuid4(),
        **_answered(conversation, now),
    )
    conversation.last_message_at = now
    conversation.first_response_at = conversation.first_response_at or now
    conversation.awaiting_since = None
    if conversation.assignee_id is None:
        conversation.assignee = by
    if conversation.status == Status.NEW:
        conversation.move_to(Status.OPEN, now=now)
    conversation.save(
        update_fields=[
            "last_message_at",
            "first_response_at",
            "assignee",
            *STATUS_FIELDS,
            *refresh_sla(conversation),
            "updated_at",
        ]
    )
    record_event(kind=Event.Kind.REPLY_SENT, actor=by, conversation=conversation, message=message.pk, private=private)
    live.send_on_commit([conversation])
    deliver_reply.delay_on_commit(message.pk)
    return message


def with_signature(text: str, by) -> str:
    """An e-mail reply with its sender's signature under it (their preference), once."""
    signature = Preferences.objects.filter(user=by).values_list("signature", flat=True).first() if by else ""
    if not signature or text.endswith(signature):
        return text
    return f"{text}\n\n-- \n{signature}"


def _answered(conversation: Conversation, now: datetime) -> dict:
    """What a reply records of the wait it ends (none when the customer was not waiting): the first
    response or a next one meets its clock (triage.sla)."""
    if conversation.awaiting_since is None:
        return {}
    due = conversation.next_response_due_at if conversation.first_response_at else conversation.first_response_due_at
    hours = business_hours(conversation)
    return {
        "answered_wait_since": conversation.awaiting_since,
        "answered_due_at": due,
        "answered_business_seconds": sla.business_seconds(
            hours, conversation.awaiting_since, now, conversation.pauses()
        ),
    }


@transaction.atomic
def retry_reply(*, message: Message, by) -> Message:
    """Send a failed reply again (the Send again button), with a fresh set of tries."""

    message = Message.objects.select_for_update().get(pk=message.pk)
    if message.delivery != Message.Delivery.FAILED:
        raise Refused("Only a reply that failed can be sent again.")
    message.delivery, message.delivery_error, message.delivery_attempts = Message.Delivery.QUEUED, "", 0
    message.delivery_changed_at = timezone.now()
    message.save(update_fields=["delivery", "delivery_error", "delivery_attempts", "delivery_changed_at"])
    record_event(
        kind=Event.Kind.REPLY_SENT, actor=by, conversation=message.conversation, message=message.pk, retry=True
    )
    live.send_on_commit([message.conversation_id])
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
            live.send_on_commit([message.conversation_id])
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
        live.send_on_commit([message.conversation_id])


def sweep_stuck_replies(*, now: datetime | None = None) -> int:
    """Move on the replies no task will move any more (beat runs this each minute); returns how many.

    A reply queued for longer than QUEUED_TOO_LONG (every retry wait and a margin) lost its task:
    it is enqueued again while tries remain, else it fails, saying why. A reply "sending" for longer
    than SEND_TIMEOUT lost its worker mid-call and is decided as deliver decides it (_abandoned).
    """

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
