"""Bring what the company's own systems know into customer records: details, tier, value, orders and cases.

Each row is matched to one customer by external reference, e-mail or phone, or creates one. A row
that would join two different customers, or that is not valid, is rejected with its reason and
changes nothing; the other rows go in. A fixed number of queries per batch of rows.
"""

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from customers.models import Customer, CustomerRecord, Tier
from inbox.models import Event
from profiles.services import parse_tags
from socialcrm.db import update_rows
from socialcrm.errors import Refused

CUSTOMER_COLUMNS = ("external_ref", "email", "phone", "name", "tier", "lifetime_value", "tags")
RECORD_COLUMNS = (
    "record_kind",
    "record_source",
    "record_ref",
    "record_title",
    "record_status",
    "record_amount",
    "record_occurred_at",
)
KEY_COLUMNS = ("external_ref", "email", "phone")
_TIERS = {value: value for value in Tier.values} | {label.lower(): value for value, label in Tier.choices}
_KINDS = {value: value for value in CustomerRecord.Kind.values} | {
    label.lower(): value for value, label in CustomerRecord.Kind.choices
}
_MAX_MONEY = Decimal("9999999999.99")


class Rejected(ValueError):
    """This row cannot go in; the message says why, in words the person who made the file understands."""


@dataclass
class ImportRow:
    line: int
    external_ref: str = ""
    email: str = ""
    phone: str = ""
    name: str = ""
    tier: str = ""
    lifetime_value: Decimal | None = None
    tags: list[str] = field(default_factory=list)
    record: dict | None = None


@dataclass
class ImportSummary:
    matched: int = 0
    created: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    records_created: int = 0
    records_updated: int = 0


def check_header(columns: list[str]) -> list[str]:
    """The columns this import ignores; raises Rejected when the file cannot be matched at all."""
    known = set(CUSTOMER_COLUMNS) | set(RECORD_COLUMNS)
    repeated = sorted({column for column in columns if columns.count(column) > 1})
    if repeated:
        raise Rejected(f"The header names a column more than once: {', '.join(repeated)}.")
    if not set(columns) & set(KEY_COLUMNS):
        raise Rejected(
            f"The header needs at least one of {', '.join(KEY_COLUMNS)} to match customers by. "
            f"It has: {', '.join(columns) or 'nothing'}."
        )
    return [column for column in columns if column not in known]


def parse_row(line: int, row: dict[str, str]) -> ImportRow:
    """One CSV row, cleaned; raises Rejected naming what is wrong."""
    value = {key: (row.get(key) or "").strip() for key in (*CUSTOMER_COLUMNS, *RECORD_COLUMNS)}
    for column, text in value.items():
        if "\x00" in text:
            raise Rejected(f"{column} contains a NUL character")
    parsed = ImportRow(line=line, external_ref=value["external_ref"], name=" ".join(value["name"].split()))
    if not (value["external_ref"] or value["email"] or value["phone"]):
        raise Rejected("no external_ref, email or phone to match the customer by")
    if len(parsed.external_ref) > 100:
        raise Rejected("external_ref is longer than 100 characters")
    if len(parsed.name) > 200:
        raise Rejected("name is longer than 200 characters")
    if value["email"]:
        parsed.email = value["email"].lower()
        if len(parsed.email) > 254:
            raise Rejected("email is longer than 254 characters")
        try:
            validate_email(parsed.email)
        except ValidationError:
            raise Rejected(f"email {value['email']!r} is not an e-mail address") from None
    if value["phone"]:
        parsed.phone = normalise_phone(value["phone"])
    if value["tier"]:
        parsed.tier = _TIERS.get(value["tier"].lower(), "")
        if not parsed.tier:
            raise Rejected(f"tier {value['tier']!r} is not one of: {', '.join(Tier.values)}")
    if value["lifetime_value"]:
        parsed.lifetime_value = _money(value["lifetime_value"], "lifetime_value")
        if parsed.lifetime_value < 0:
            raise Rejected("lifetime_value cannot be negative")
    if value["tags"]:
        try:
            parsed.tags = parse_tags(value["tags"], separators=";|")
        except Refused as problem:
            raise Rejected(f"tags: {problem}") from None
    if any(value[column] for column in RECORD_COLUMNS):
        parsed.record = _record(value)
    return parsed


def normalise_phone(text: str) -> str:
    """'+44 (0)7700 900-123' -> '+447700900123'; raises Rejected when it is not a phone number."""
    cleaned = re.sub(r"[\s().\-/]", "", text.replace("(0)", ""))
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    if not re.fullmatch(r"\+?\d{6,15}", cleaned):
        raise Rejected(f"phone {text!r} is not a phone number (6 to 15 digits, optionally starting with +)")
    return cleaned


# 1234.50, 1,234.50, -12: a point for decimals; commas only between groups of three digits.
_AMOUNT = re.compile(r"-?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?")


def _money(text: str, column: str) -> Decimal:
    """An amount with a decimal point; '12,50' is refused rather than read as 1250."""
    if not _AMOUNT.fullmatch(text) or len(text) > 20:
        raise Rejected(f"{column} {text!r} is not an amount like 1234.50 (a point for decimals)")
    amount = Decimal(text.replace(",", ""))
    if abs(amount) > _MAX_MONEY:
        raise Rejected(f"{column} {text!r} is out of range")
    return amount.quantize(Decimal("0.01"))


def _record(value: dict[str, str]) -> dict:
    kind = _KINDS.get(value["record_kind"].lower(), "")
    if not kind:
        raise Rejected(f"record_kind {value['record_kind']!r} is not one of: {', '.join(CustomerRecord.Kind.values)}")
    for column, limit in (("record_source", 50), ("record_title", 255)):
        if not value[column]:
            raise Rejected(f"a record needs {column}")
        if len(value[column]) > limit:
            raise Rejected(f"{column} is longer than {limit} characters")
    if len(value["record_ref"]) > 100 or len(value["record_status"]) > 50:
        raise Rejected("record_ref (100) or record_status (50 characters) is too long")
    occurred = _moment(value["record_occurred_at"])
    amount = _money(value["record_amount"], "record_amount") if value["record_amount"] else None
    return {
        "kind": kind,
        "source": value["record_source"],
        "external_ref": value["record_ref"],
        "title": value["record_title"],
        "status": value["record_status"],
        "amount": amount,
        "occurred_at": occurred,
    }


def _moment(text: str) -> datetime:
    if not text:
        raise Rejected("a record needs record_occurred_at (e.g. 2026-03-01 or 2026-03-01T14:30:00Z)")
    try:
        moment = parse_datetime(text)
        if moment is None and (day := parse_date(text)) is not None:
            moment = datetime.combine(day, time())
    except ValueError:
        moment = None
    if moment is None:
        raise Rejected(f"record_occurred_at {text!r} is not a date (use 2026-03-01 or 2026-03-01T14:30:00Z)")
    if not 1900 <= moment.year <= 2100:
        raise Rejected(f"record_occurred_at {text!r} is outside 1900 to 2100")
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


# --- Matching and writing, a batch at a time ---


@transaction.atomic
def import_batch(rows: list[ImportRow], summary: ImportSummary, *, source: str) -> None:
    """Match or create each row's customer, in file order, and write the batch; counts go into `summary`."""
    index = _CustomerIndex.load(rows)
    existing = _existing_records(rows)
    owners: dict[tuple, Customer] = {}  # each referenced record's customer, as the batch goes
    created: list[Customer] = []
    changed: dict[int, tuple[Customer, set[str]]] = {}
    records: list[tuple[Customer, dict]] = []
    for row in rows:
        try:
            customer = index.match(row)
            key = _record_key(row)
            _check_record_owner(key, customer, owners, existing)
        except Rejected as problem:
            summary.rejected.append((row.line, str(problem)))
            continue
        if customer is None:
            customer = Customer(name=row.name)
            created.append(customer)
            summary.created += 1
        else:
            summary.matched += 1
        fields = _apply(row, customer)
        index.add(customer)
        if customer.pk and fields:
            changed.setdefault(customer.pk, (customer, set()))[1].update(fields)
        if row.record:
            records.append((customer, row.record))
            if key:
                owners[key] = customer

    Customer.objects.bulk_create(created)
    now = timezone.now()
    for customer, _ in changed.values():
        customer.updated_at = now
    names = sorted({name for _, fields in changed.values() for name in fields})
    update_rows([customer for customer, _ in changed.values()], [*names, "updated_at"])
    _write_records(records, existing, summary)
    Event.objects.bulk_create(
        [
            Event(
                kind=Event.Kind.CUSTOMER_CHANGED, customer=customer, data={"source": source, "fields": sorted(fields)}
            )
            for customer, fields in changed.values()
        ]
        + [
            Event(kind=Event.Kind.CUSTOMER_CHANGED, customer=c, data={"source": source, "created": True})
            for c in created
        ]
    )


def _record_key(row: ImportRow) -> tuple | None:
    """How a row's record is known to its source system: (source, kind, reference); None without a reference."""
    if not row.record or not row.record["external_ref"]:
        return None
    return (row.record["source"], row.record["kind"], row.record["external_ref"])


def _existing_records(rows: list[ImportRow]) -> dict[tuple, CustomerRecord]:
    keys = {key for row in rows if (key := _record_key(row))}
    if not keys:
        return {}
    stored = CustomerRecord.objects.filter(
        source__in={source for source, _, _ in keys}, external_ref__in={ref for _, _, ref in keys}
    )
    return {(r.source, r.kind, r.external_ref): r for r in stored if (r.source, r.kind, r.external_ref) in keys}


def _check_record_owner(key, customer: Customer | None, owners: dict, existing: dict) -> None:
    """A record the source system already gave to one customer is not silently handed to another."""
    if key is None:
        return
    if key in owners:
        if owners[key] is not customer:
            raise Rejected(f"record_ref {key[2]!r} belongs to {_number(owners[key])}, not to this row's customer")
    elif key in existing and (customer is None or existing[key].customer_id != customer.pk):
        raise Rejected(f"record_ref {key[2]!r} belongs to #{existing[key].customer_id}, not to this row's customer")


def _apply(row: ImportRow, customer: Customer) -> set[str]:
    """Copy the row's non-empty details onto the customer; the names of the fields that changed."""
    changed = set()
    for name in ("name", "email", "phone", "tier", "lifetime_value", "external_ref"):
        new = getattr(row, name)
        if new not in ("", None) and getattr(customer, name) != new:
            setattr(customer, name, new)
            changed.add(name)
    added = [tag for tag in row.tags if tag.casefold() not in {t.casefold() for t in customer.tags}]
    if added:
        customer.tags = [*customer.tags, *added]
        changed.add("tags")
    return changed


def _write_records(records: list[tuple[Customer, dict]], existing: dict, summary: ImportSummary) -> None:
    """Create each record, or update the one from the same source with the same reference."""
    new, updated = {}, {}
    for customer, data in records:
        key = (data["source"], data["kind"], data["external_ref"])
        record = existing.get(key) or new.get(key) if data["external_ref"] else None
        if record is None:
            record = CustomerRecord(customer=customer, **data)
            new[key if data["external_ref"] else id(record)] = record
        elif any(getattr(record, name) != value for name, value in data.items()):
            for name, value in data.items():
                setattr(record, name, value)
            if record.pk:
                updated[record.pk] = record
    CustomerRecord.objects.bulk_create(new.values())
    update_rows(list(updated.values()), ["title", "status", "amount", "occurred_at"])
    summary.records_created += len(new)
    summary.records_updated += len(updated)


class _CustomerIndex:
    """Customers that a batch's rows may match, by reference, e-mail and phone; grows as rows create them."""

    def __init__(self):
        self.by = {"external_ref": defaultdict(dict), "email": defaultdict(dict), "phone": defaultdict(dict)}

    @classmethod
    def load(cls, rows: list[ImportRow]) -> "_CustomerIndex":
        index = cls()
        refs = {row.external_ref for row in rows if row.external_ref}
        emails = {row.email for row in rows if row.email}
        phones = {row.phone for row in rows if row.phone}
        live = Customer.objects.filter(merged_into__isnull=True)  # a merge hands its reference to the kept one
        found = {}  # one object per customer, however many ways it matches
        if refs:
            found.update(live.filter(external_ref__in=refs).in_bulk())
        if emails:
            found.update(live.annotate(lower_email=Lower("email")).filter(lower_email__in=emails).in_bulk())
        if phones:
            found.update(live.filter(phone__in=phones).in_bulk())
        for customer in found.values():
            index.add(customer)
        return index

    def add(self, customer: Customer) -> None:
        for name in self.by:
            key = getattr(customer, name).lower() if name == "email" else getattr(customer, name)
            if key:
                self.by[name][key][id(customer)] = customer

    def match(self, row: ImportRow) -> Customer | None:
        """The one customer this row describes, None for a new one; Rejected if it points at several."""
        found: dict[int, tuple[str, Customer]] = {}
        for name in ("external_ref", "email", "phone"):
            value = getattr(row, name)
            if not value:
                continue
            owners = list(self.by[name].get(value, {}).values())
            if len(owners) > 1:
                numbers = ", ".join(_number(c) for c in owners)
                raise Rejected(f"{name} {value!r} belongs to several customers ({numbers}): merge them first")
            for owner in owners:
                found.setdefault(id(owner), (name, owner))
        if len(found) > 1:
            described = ", ".join(f"by {name} {_number(owner)}" for name, owner in found.values())
            raise Rejected(f"the row matches different customers ({described})")
        if not found:
            return None
        _, customer = next(iter(found.values()))
        if row.external_ref and customer.external_ref and customer.external_ref != row.external_ref:
            raise Rejected(
                f"matched {_number(customer)}, who already has external_ref {customer.external_ref!r}, not "
                f"{row.external_ref!r}"
            )
        return customer


def _number(customer: Customer) -> str:
    return f"#{customer.pk}" if customer.pk else "a customer created earlier in this file"
