"""Read queries about customers, behind the same rule of who may see what as the inbox.

An agent sees a customer when they may see at least one of that customer's conversations, and
then only those conversations; managers and admins see every customer and everything.
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Lower, TruncMonth
from django.http import Http404

from customers.models import Customer, CustomerRecord, Identity, Merge, NotDuplicate
from customers.search import likeness, looks_like
from inbox.models import Event, Message
from inbox.selectors import conversations_visible_to, from_micros, to_micros
from socialcrm.db import parse_id
from socialcrm.errors import Refused
from socialcrm.roles import is_supervisor


def customers_visible_to(user) -> QuerySet[Customer]:
    if not user.is_authenticated:
        return Customer.objects.none()
    if is_supervisor(user):
        return Customer.objects.all()
    return Customer.objects.filter(pk__in=conversations_visible_to(user).values("customer_id"))


def access_customer(user, customer_id) -> Customer:
    """The customer, if the user may see them; 404 otherwise (their existence is private too)."""
    try:
        customer_id = int(customer_id)
    except (TypeError, ValueError):
        raise Http404("No such customer") from None
    customer = customers_visible_to(user).filter(pk=customer_id).first()
    if customer is None:
        raise Http404("No such customer")
    return customer


def search_customers(user, query: str, *, limit: int = 25) -> list[Customer]:
    """Customers the user may see whose name, e-mail, phone, reference or handle contains the query,
    or whose name or handle looks like it (PostgreSQL)."""
    query = query.strip()[:100]
    if not query:
        return []
    handle = query.lstrip("@")
    by_identity = Identity.objects.filter(Q(handle__icontains=handle) | Q(external_id=query)).values("customer_id")
    matches = Q(name__icontains=query) | Q(email__iexact=query) | Q(external_ref__iexact=query) | Q(pk__in=by_identity)
    if (number := parse_id(query.lstrip("#").strip())) is not None:
        matches |= Q(pk=number)
    # A national number (07700 900123, +44 (0)7700 900123) ends the stored +447700900123.
    phone = _digits(query.replace("(0)", "")).lstrip("0")
    if len(phone) >= 6:
        matches |= Q(phone__endswith=phone)
    # A name that looks like the query counts too ("Kofi Zhu" finds Kofi Zhou), the likest first.
    return list(
        customers_visible_to(user)
        .filter(matches | looks_like(query))
        .annotate(likeness=likeness(query))
        .prefetch_related("identities")
        .order_by("-likeness", "name", "pk")[:limit]
    )


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


# --- The timeline: every message of every visible conversation, and the company's own records ---


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # "message" or "record"
    item: Message | CustomerRecord

    @property
    def key(self) -> tuple:
        return (self.at, self.kind, self.item.pk)


def customer_timeline(
    user, customer: Customer, *, before: str = "", limit: int = 30
) -> tuple[list[TimelineEntry], str]:
    """A page of the customer's history, newest first: messages both ways on every channel, and records.

    Keyset pagination over (time, kind, id): `before` is the cursor the previous page returned.
    Two queries a page, however long the history. Raises ValueError for a malformed cursor.
    """
    cursor = _parse_cursor(before) if before else None
    visible = conversations_visible_to(user).filter(customer=customer).values("pk")
    messages = Message.objects.filter(conversation_id__in=visible).select_related(
        "conversation", "channel", "author", "sent_by", "triage"
    )
    records = CustomerRecord.objects.filter(customer=customer)
    if cursor:
        messages = messages.filter(_older(cursor, "message", "posted_at"))
        records = records.filter(_older(cursor, "record", "occurred_at"))
    entries = [
        *(TimelineEntry(m.posted_at, "message", m) for m in messages.order_by("-posted_at", "-pk")[: limit + 1]),
        *(TimelineEntry(r.occurred_at, "record", r) for r in records.order_by("-occurred_at", "-pk")[: limit + 1]),
    ]
    entries.sort(key=lambda entry: entry.key, reverse=True)
    if len(entries) <= limit:
        return entries, ""
    entries = entries[:limit]
    last = entries[-1]
    return entries, f"{to_micros(last.at)}_{last.kind}_{last.item.pk}"


def _parse_cursor(cursor: str) -> tuple[datetime, str, int]:
    try:
        micros, kind, pk = cursor.split("_")
        if kind not in ("message", "record"):
            raise ValueError(kind)
        return from_micros(int(micros)), kind, int(pk)
    except (ValueError, OverflowError) as problem:
        raise Refused("That page link is broken; start again from the newest.") from problem


def _older(cursor: tuple[datetime, str, int], kind: str, time_field: str) -> Q:
    """Entries of `kind` that come after the cursor in (time, kind, id) descending order."""
    at, cursor_kind, pk = cursor
    earlier = Q(**{f"{time_field}__lt": at})
    if kind < cursor_kind:  # same time sorts after the cursor
        return earlier | Q(**{time_field: at})
    if kind == cursor_kind:
        return earlier | Q(**{time_field: at, "pk__lt": pk})
    return earlier


# --- Sentiment over time ---


@dataclass(frozen=True)
class SentimentMonth:
    month: datetime
    positive: int
    neutral: int
    negative: int

    @property
    def total(self) -> int:
        return self.positive + self.neutral + self.negative


def sentiment_by_month(user, customer: Customer, *, months: int = 24) -> list[SentimentMonth]:
    """How the customer's messages felt, month by month (triaged inbound messages the user may see)."""
    visible = conversations_visible_to(user).filter(customer=customer).values("pk")
    rows = (
        Message.objects.filter(conversation_id__in=visible, direction=Message.Direction.INBOUND, triage__isnull=False)
        .annotate(month=TruncMonth("posted_at"))
        .values_list("month", "triage__sentiment")
        .annotate(n=Count("pk"))
        .order_by("month")
    )
    result = []
    for month, group in groupby(rows, key=lambda row: row[0]):
        counts = {sentiment: n for _, sentiment, n in group}
        result.append(
            SentimentMonth(month, counts.get("positive", 0), counts.get("neutral", 0), counts.get("negative", 0))
        )
    return result[-months:]


def customer_history(customer: Customer, *, limit: int = 15) -> list[Event]:
    """The audit trail of the customer record itself: merges, imports, tags, notes."""
    return list(Event.objects.filter(customer=customer, conversation__isnull=True).select_related("actor")[:limit])


def undoable_merges(customer: Customer) -> list[Merge]:
    """Merges into this customer that can still be undone, latest first."""
    return list(
        Merge.objects.filter(kept=customer, undone_at__isnull=True, merged__merged_into=customer).select_related(
            "merged", "by"
        )
    )


# --- Likely duplicates ---


@dataclass(frozen=True)
class DuplicatePair:
    first: Customer
    second: Customer
    reasons: tuple[str, ...]

    @property
    def both(self) -> tuple[Customer, Customer]:
        return (self.first, self.second)


def likely_duplicates(user, *, limit: int = 100) -> list[DuplicatePair]:
    """Pairs of customers the user may see who are probably one person, strongest evidence first.

    Evidence: the same e-mail (any case); the same phone; the same handle on two networks; the same
    full name with similar handles. Merged customers and pairs marked "not the same person" are left out.
    A handful of grouped queries, whatever the number of customers.
    """
    active = customers_visible_to(user).filter(merged_into__isnull=True)
    reasons: dict[tuple[int, int], list[str]] = {}

    def note(ids: list[int], reason: str) -> None:
        ids = sorted(set(ids))
        for i, first in enumerate(ids):
            for second in ids[i + 1 : i + 6]:  # a big group is one problem; a few pairs show it
                reasons.setdefault((first, second), []).append(reason)

    for email, ids in _groups(active.exclude(email="").annotate(key=Lower("email")), "key"):
        note(ids, f"same e-mail {email}")
    for phone, ids in _groups(active.exclude(phone=""), "phone"):
        note(ids, f"same phone {phone}")
    live_identities = Identity.objects.filter(customer__in=active).exclude(handle="")
    for handle, ids in _groups(live_identities.annotate(key=Lower("handle")), "key", field="customer_id"):
        note(ids, f"same handle {handle}")
    named = _groups(active.filter(name__contains=" ").annotate(key=Lower("name")), "key")
    handles = _squashed_handles([pk for _, ids in named for pk in ids])
    for name, ids in named:
        for first, second, why in _similar_handles(ids, handles):
            known = any(reason.startswith("same handle") for reason in reasons.get((first, second), ()))
            note([first, second], f"same name {name!r}" if known else f"same name {name!r} and {why}")

    dismissed = set(NotDuplicate.objects.values_list("first_id", "second_id"))
    ranked = sorted(
        ((pair, why) for pair, why in reasons.items() if pair not in dismissed),
        key=lambda item: (-_strength(item[1]), item[0]),
    )[:limit]
    customers = Customer.objects.prefetch_related("identities").in_bulk({pk for pair, _ in ranked for pk in pair})
    return [DuplicatePair(customers[a], customers[b], tuple(why)) for (a, b), why in ranked]


@dataclass(frozen=True)
class DuplicateGroup:
    """Records that are probably one person, linked by the evidence of their pairs."""

    customers: list[Customer]  # in id order
    pairs: list[DuplicatePair]  # strongest evidence first


def likely_duplicate_groups(user, *, limit: int = 100) -> list[DuplicateGroup]:
    """The likely duplicates as groups: three records of one person are one group of three, not three
    pairs to find and review apart. Strongest evidence first, as likely_duplicates ranks the pairs."""
    pairs = likely_duplicates(user, limit=limit)
    root: dict[int, int] = {}

    def top(pk: int) -> int:
        while root.setdefault(pk, pk) != pk:
            pk = root[pk]
        return pk

    for pair in pairs:
        root[top(pair.second.pk)] = top(pair.first.pk)
    grouped: dict[int, list[DuplicatePair]] = {}
    for pair in pairs:  # in rank order, so the group with the strongest pair comes first
        grouped.setdefault(top(pair.first.pk), []).append(pair)
    return [
        DuplicateGroup(
            customers=sorted({c.pk: c for pair in members for c in pair.both}.values(), key=lambda c: c.pk),
            pairs=members,
        )
        for members in grouped.values()
    ]


def _groups(queryset, key: str, *, field: str = "pk", cap: int = 500) -> list[tuple[str, list[int]]]:
    """Values of `key` held by more than one customer, with those customers' ids."""
    shared = (
        queryset.values(key)
        .annotate(n=Count(field, distinct=True))
        .filter(n__gt=1)
        .order_by("-n", key)
        .values_list(key, flat=True)[:cap]
    )
    shared = list(shared)
    if not shared:
        return []
    pairs = queryset.filter(**{f"{key}__in": shared}).values_list(key, field).order_by(key, field).distinct()
    return [(value, [pk for _, pk in group]) for value, group in groupby(pairs, key=lambda row: row[0])]


def _squashed_handles(customer_ids: list[int]) -> dict[int, set[str]]:
    """Each customer's handles with case and punctuation ignored: one query for all of them."""
    handles: dict[int, set[str]] = {}
    for customer_id, handle in Identity.objects.filter(customer_id__in=customer_ids).values_list(
        "customer_id", "handle"
    ):
        handles.setdefault(customer_id, set()).add(_squash(handle))
    return handles


def _similar_handles(customer_ids: list[int], handles: dict[int, set[str]]) -> list[tuple[int, int, str]]:
    """Pairs among these same-named customers whose handles look alike once punctuation is ignored."""
    found = []
    ids = sorted(customer_ids)
    for i, first in enumerate(ids):
        for second in ids[i + 1 :]:
            alike = {a for a in handles.get(first, ()) for b in handles.get(second, ()) if a and _alike(a, b)}
            if alike:
                found.append((first, second, f"similar handles ({sorted(alike)[0]})"))
    return found


def _squash(handle: str) -> str:
    text = unicodedata.normalize("NFKD", handle).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]", "", text)


def _alike(a: str, b: str) -> bool:
    """One handle is the other with a few characters added (dana.scully, danascully1, dana_scully_uk)."""
    if len(a) < 4 or len(b) < 4:
        return False
    shorter, longer = sorted((a, b), key=len)
    return shorter in longer and len(longer) - len(shorter) <= 4


def _strength(reasons: list[str]) -> int:
    weights = {"same e-mail": 4, "same phone": 3, "same handle": 2, "same name": 1}
    return sum(weight for reason in reasons for prefix, weight in weights.items() if reason.startswith(prefix))
