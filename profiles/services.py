"""What agents do to a customer record: tags, notes, merge and undo, "not the same person"."""

import re

from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from customers.models import Customer, CustomerNote, CustomerRecord, Identity, Merge, NotDuplicate, Tier
from inbox.models import Conversation, Event, Message
from socialcrm.errors import Refused

MAX_TAGS, MAX_TAG_LENGTH = 30, 40


def parse_tags(text: str, *, separators: str = ",") -> list[str]:
    """Tags from what someone typed: split on any of `separators`, trimmed, without repeats (ignoring case).

    Raises ValueError for too many or too long tags.
    """
    if "\x00" in text:
        raise Refused("Tags cannot contain NUL characters.")
    tags: list[str] = []
    for raw in re.split(f"[{re.escape(separators)}]", text):
        tag = " ".join(raw.split())
        if not tag or tag.casefold() in {t.casefold() for t in tags}:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise Refused(f"A tag can be at most {MAX_TAG_LENGTH} characters: {tag[:MAX_TAG_LENGTH]}…")
        tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise Refused(f"{len(tags)} tags is more than {MAX_TAGS}, the most a customer can have.")
    return tags


@transaction.atomic
def set_tags(*, customer: Customer, tags: list[str], by) -> Customer:
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    _refuse_if_merged(customer)
    before = list(customer.tags)
    if before == tags:
        return customer
    customer.tags = tags
    customer.save(update_fields=["tags", "updated_at"])
    Event.objects.create(
        kind=Event.Kind.CUSTOMER_CHANGED, actor=by, customer=customer, data={"tags": {"from": before, "to": tags}}
    )
    return customer


MAX_NOTE_LENGTH = 10_000


@transaction.atomic
def add_customer_note(*, customer: Customer, author, text: str) -> CustomerNote:
    _refuse_if_merged(customer)
    text = text.strip()
    if not text:
        raise Refused("Write something first: the note is empty.")
    if "\x00" in text:
        raise Refused("The note contains a NUL character; paste it again as plain text.")
    if len(text) > MAX_NOTE_LENGTH:
        raise Refused(f"A note can be at most {MAX_NOTE_LENGTH:,} characters.")
    note = CustomerNote.objects.create(customer=customer, author=author, text=text)
    Event.objects.create(
        kind=Event.Kind.CUSTOMER_NOTE_ADDED, actor=author, customer=customer, data={"note_id": note.pk}
    )
    return note


def _refuse_if_merged(customer: Customer) -> None:
    if customer.merged_into_id:
        raise Refused(f"{customer} was merged into customer #{customer.merged_into_id}; change that one instead.")


# Fields a merge fills in on the kept customer when it has none; tier and value take the larger.
_FILLED = ("name", "email", "phone", "external_ref")


_TIER_ORDER = list(Tier.values)


# What moves to the kept customer: model, and the name of its customer field.
_MOVED = {
    "identities": Identity,
    "conversations": Conversation,
    "records": CustomerRecord,
    "notes": CustomerNote,
    "events": Event,
}


def merged_details(keep: Customer, merge: Customer) -> dict:
    """What the kept customer's details become when `merge` is folded in: its own, the other's where
    it has none; tags joined; the larger tier and lifetime value. (The merge review shows these.)"""
    after = {field: getattr(keep, field) or getattr(merge, field) for field in _FILLED}
    after["tier"] = max(keep.tier, merge.tier, key=_TIER_ORDER.index)
    after["lifetime_value"] = max(keep.lifetime_value, merge.lifetime_value)
    added = [tag for tag in merge.tags if tag.casefold() not in {t.casefold() for t in keep.tags}]
    after["tags"] = [*keep.tags, *added][:MAX_TAGS]
    return after


@transaction.atomic
def merge_customers(*, keep: Customer, merge: Customer, by) -> Merge:
    """Fold `merge` into `keep`: its identities, conversations, records, notes and history move.

    `keep` keeps its own details and takes the other's where it has none; tags are joined; tier and
    lifetime value take the larger. `merge` stays as an empty record pointing at `keep`, so links to
    it still lead somewhere and the merge can be undone. Raises ValueError when it cannot be done.
    """
    if keep.pk == merge.pk:
        raise Refused("A customer cannot be merged into themselves.")
    locked = _lock_customers(keep.pk, merge.pk)
    keep, merge = locked[keep.pk], locked[merge.pk]
    for customer in (keep, merge):
        if customer.merged_into_id:
            raise Refused(f"{customer} was already merged into customer #{customer.merged_into_id}.")

    moved = {
        name: list(model.objects.filter(customer=merge).values_list("pk", flat=True)) for name, model in _MOVED.items()
    }
    for name, model in _MOVED.items():
        model.objects.filter(pk__in=moved[name]).update(customer=keep)

    kept_before = {}
    for field, value in merged_details(keep, merge).items():
        if value != getattr(keep, field):
            before = getattr(keep, field)
            kept_before[field] = str(before) if field == "lifetime_value" else before
            setattr(keep, field, value)

    merged_before = {"external_ref": merge.external_ref} if merge.external_ref else {}
    merge.external_ref = ""  # unique: it now belongs to the kept customer
    merge.merged_into = keep
    merge.save(update_fields=["external_ref", "merged_into", "updated_at"])
    if kept_before:
        keep.save(update_fields=[*kept_before, "updated_at"])

    record = Merge.objects.create(
        kept=keep, merged=merge, by=by, moved=moved, kept_before=kept_before, merged_before=merged_before
    )
    summary = {name: len(ids) for name, ids in moved.items()}
    Event.objects.create(
        kind=Event.Kind.CUSTOMER_MERGED,
        actor=by,
        customer=keep,
        data={"merge_id": record.pk, "merged_id": merge.pk, "merged_name": str(merge), "moved": summary},
    )
    Event.objects.create(
        kind=Event.Kind.CUSTOMER_MERGED, actor=by, customer=merge, data={"merge_id": record.pk, "into_id": keep.pk}
    )
    return record


@transaction.atomic
def undo_merge(*, merge: Merge, by) -> Merge:
    """Split the customers again: what moved goes back, and what the merge filled in is emptied.

    Conversations started since the merge by an identity that goes back go with it. Details someone
    changed on the kept customer after the merge stay as they are. Raises ValueError when the merge
    is already undone, or when either customer has since been merged again (undo that first).
    """
    merge = Merge.objects.select_for_update().get(pk=merge.pk)
    locked = _lock_customers(merge.kept_id, merge.merged_id)
    keep, merged = locked[merge.kept_id], locked[merge.merged_id]
    if merge.undone_at:
        raise Refused(f"This merge was already undone on {merge.undone_at:%Y-%m-%d %H:%M}.")
    if keep.merged_into_id:
        raise Refused(f"{keep} has since been merged into customer #{keep.merged_into_id}; undo that first.")
    if merged.merged_into_id != keep.pk:
        raise Refused("The merged customer no longer points at the kept one; this merge cannot be undone.")

    reference = merge.merged_before.get("external_ref", "")
    if reference and Customer.objects.filter(external_ref=reference).exclude(pk=keep.pk).exists():
        raise Refused(f"Another customer now has the reference {reference!r}; change it there first.")

    returning = set(merge.moved.get("conversations", [])) | _started_since(merge, keep)
    moved_back = {"conversations": len(returning)}
    Conversation.objects.filter(pk__in=returning, customer=keep).update(customer=merged)
    for name, model in _MOVED.items():
        if name == "conversations":
            continue
        going_back = Q(pk__in=merge.moved.get(name, []))
        if name == "events":  # and the history of conversations that go back, written since
            going_back |= Q(conversation_id__in=returning)
        moved_back[name] = model.objects.filter(going_back, customer=keep).update(customer=merged)

    restored = []
    for field, before in merge.kept_before.items():
        if field == "tags":
            added = [tag for tag in keep.tags if tag not in before and tag in merged.tags]
            keep.tags = [tag for tag in keep.tags if tag not in added]
        elif field in _FILLED and getattr(keep, field) == getattr(merged, field):
            setattr(keep, field, before)
        elif field == "tier" and keep.tier == merged.tier:
            keep.tier = before
        elif field == "lifetime_value" and keep.lifetime_value == merged.lifetime_value:
            keep.lifetime_value = before
        else:
            continue
        restored.append(field)
    if restored:
        keep.save(update_fields=[*restored, "updated_at"])
    merged.merged_into = None
    merged.external_ref = reference
    if merged.external_ref and keep.external_ref == merged.external_ref:
        keep.external_ref = ""
        keep.save(update_fields=["external_ref", "updated_at"])
    merged.save(update_fields=["merged_into", "external_ref", "updated_at"])

    merge.undone_at, merge.undone_by = timezone.now(), by
    merge.save(update_fields=["undone_at", "undone_by"])
    for customer, other in ((keep, merged), (merged, keep)):
        Event.objects.create(
            kind=Event.Kind.CUSTOMER_UNMERGED,
            actor=by,
            customer=customer,
            data={"merge_id": merge.pk, "other_id": other.pk, "moved_back": moved_back},
        )
    return merge


def _lock_customers(*ids: int) -> dict[int, Customer]:
    """Lock the customers' rows, always in id order, so two merges of the same pair cannot deadlock."""
    return {
        customer.pk: customer for customer in Customer.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    }


def _started_since(merge: Merge, keep: Customer) -> set[int]:
    """Conversations of the kept customer begun after the merge by an identity that came with it.

    Only those whose first message from the customer is by such an identity: a conversation the kept
    customer began stays with them, whoever else wrote in it.
    """
    first_author = (
        Message.objects.filter(conversation=OuterRef("pk"), direction=Message.Direction.INBOUND)
        .order_by("posted_at", "pk")
        .values("author_id")[:1]
    )
    return set(
        Conversation.objects.filter(customer=keep, created_at__gte=merge.created_at)
        .annotate(first_author=Subquery(first_author))
        .filter(first_author__in=merge.moved.get("identities", []))
        .values_list("pk", flat=True)
    )


def mark_not_duplicate(*, first: Customer, second: Customer, by) -> NotDuplicate:
    """Record that two customers are different people, so the duplicates list stops offering them."""
    if first.pk == second.pk:
        raise Refused("That is the same customer twice.")
    low, high = sorted((first.pk, second.pk))
    record, _ = NotDuplicate.objects.get_or_create(first_id=low, second_id=high, defaults={"by": by})
    return record
