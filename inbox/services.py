"""The verbs that change the inbox. Each validates, writes in a transaction and records an Event."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from customers.models import Customer
from inbox.models import Conversation, Event, Status


class InvalidTransition(ValueError):
    """The conversation cannot move from its status to the one asked for."""


def record_event(
    *,
    kind: str,
    actor=None,
    conversation: Conversation | None = None,
    customer: Customer | None = None,
    **data,
) -> Event:
    """Append one entry to the audit trail."""
    if conversation is not None and customer is None:
        customer = conversation.customer
    return Event.objects.create(kind=kind, actor=actor, conversation=conversation, customer=customer, data=data)


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
    if status not in Status.values:
        raise InvalidTransition(f"{status!r} is not a conversation status")
    if not conversation.can_become(status):
        raise InvalidTransition(
            f"A {Status(old).label.lower()} conversation cannot become {Status(status).label.lower()}"
        )
    now = timezone.now()
    if status == Status.SNOOZED:
        if snoozed_until is None or snoozed_until <= now:
            raise InvalidTransition("Snoozing needs a wake-up time in the future")
        conversation.snoozed_until = snoozed_until
    else:
        conversation.snoozed_until = None
    conversation.resolved_at = now if status == Status.RESOLVED else None
    conversation.status = status
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
