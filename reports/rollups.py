"""Keeping the report rollups equal to the sum of every conversation's facts.

`facts_of` says what one conversation contributes (pure: it reads what it is given); `rows_of` turns
those facts into rollup rows for each grain; `refresh` computes a changed conversation's rows again
and adds the difference to the rollups, and `rebuild` does it for every conversation from nothing.
"""

import multiprocessing
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import psycopg
from django.conf import settings
from django.db import connection, connections, transaction

from inbox.models import Conversation, Event, Message, Status
from reports.durations import bin_of
from reports.models import AgentTally, ConversationFacts, Durations, Grain, Measure, ResponseTimes, Tally
from triage import sla
from triage.hours import BusinessHours

TABLES = {"t": Tally, "a": AgentTally, "d": Durations, "r": ResponseTimes}

# A rollup row's key: (table, grain, start, *the table's dimensions, measure name).
Key = tuple


def brand_zone() -> ZoneInfo:
    return ZoneInfo(settings.BRAND_TIME_ZONE)


@dataclass(frozen=True)
class Fact:
    """One thing a conversation did at a moment: a Tally/AgentTally measure counted once, or a duration."""

    at: datetime
    measure: str  # a measure of Tally, or "response"/"resolution" for the durations that go with them
    agent_id: int = 0
    seconds: int | None = None  # wall-clock seconds of a response or resolution
    business_seconds: int | None = None
    met: bool | None = None  # against its SLA target; None when there was none
    first: bool = False  # the first response, not a next one

    def as_list(self) -> list:
        """As ConversationFacts stores it (JSON)."""
        return [
            self.at.isoformat(),
            self.measure,
            self.agent_id,
            self.seconds,
            self.business_seconds,
            self.met,
            self.first,
        ]

    @classmethod
    def from_list(cls, stored: list) -> "Fact":
        at, measure, agent_id, seconds, business_seconds, met, first = stored
        return cls(datetime.fromisoformat(at), measure, agent_id, seconds, business_seconds, met, first)


@dataclass(frozen=True)
class Dimensions:
    """Where a conversation counts: its present queue, channel, type and sentiment."""

    queue_id: int
    channel_id: int
    message_type: str
    sentiment: str


def facts_of(
    conversation: Conversation, messages: Iterable[Message], events: Iterable[Event], hours: BusinessHours
) -> list[Fact]:
    """What one conversation contributes to the reports, from its row, its messages and its status changes.

    A reply that ended a wait is a response (the first one the first response), timed from the wait's
    start in wall-clock and business time, met when it came by the due time the SLA gave. Resolves and
    reopens come from the audit trail; a resolved conversation with no resolve there (older data) is
    resolved at its resolved_at.
    """
    facts = [Fact(conversation.created_at, "opened")]
    responses = 0
    for message in sorted(messages, key=lambda m: (m.posted_at, m.id)):
        if message.direction == Message.Direction.INBOUND:
            facts.append(Fact(message.posted_at, "messages_in"))
            continue
        agent = message.sent_by_id or 0
        facts.append(Fact(message.posted_at, "replies_out", agent_id=agent))
        if message.answered_wait_since is not None:
            due = message.answered_due_at
            facts.append(
                Fact(
                    message.posted_at,
                    "response",
                    agent_id=agent,
                    seconds=max(0, round((message.posted_at - message.answered_wait_since).total_seconds())),
                    business_seconds=message.answered_business_seconds,
                    met=None if due is None else message.posted_at <= due,
                    first=responses == 0,
                )
            )
            responses += 1
    if responses == 0 and conversation.first_response_at is not None:  # answered before replies kept their wait
        due = conversation.first_response_due_at
        facts.append(
            Fact(
                conversation.first_response_at,
                "response",
                agent_id=conversation.assignee_id or 0,
                seconds=max(0, round((conversation.first_response_at - conversation.created_at).total_seconds())),
                met=None if due is None else conversation.first_response_at <= due,
                first=True,
            )
        )
    resolves = reopens = 0
    for event in sorted(events, key=lambda e: (e.created_at, e.id)):
        if event.data.get("new") == Status.RESOLVED:
            facts.append(
                Fact(event.created_at, "resolutions", agent_id=event.actor_id or conversation.assignee_id or 0)
            )
            resolves += 1
        elif event.data.get("old") == Status.RESOLVED:
            facts.append(Fact(event.created_at, "reopens"))
            reopens += 1
    resolved = conversation.status == Status.RESOLVED and conversation.resolved_at is not None
    if resolved and resolves <= reopens:
        facts.append(Fact(conversation.resolved_at, "resolutions", agent_id=conversation.assignee_id or 0))
    if resolved:
        due = conversation.resolution_due_at
        facts.append(
            Fact(
                conversation.resolved_at,
                "resolution",
                seconds=max(0, round((conversation.resolved_at - conversation.created_at).total_seconds())),
                business_seconds=sla.business_seconds(
                    hours, conversation.created_at, conversation.resolved_at, conversation.pauses()
                ),
                met=None if due is None else conversation.resolved_at <= due,
            )
        )
    return facts


def dimensions_of(conversation: Conversation) -> Dimensions:
    return Dimensions(
        queue_id=conversation.queue_id or 0,
        channel_id=conversation.channel_id,
        message_type=conversation.message_type,
        sentiment=conversation.sentiment,
    )


def rows_of(where: Dimensions, facts: Iterable[Fact], zone: ZoneInfo) -> Counter:
    """The rollup rows these facts make, hour by hour and brand-time day by day: {key: amount}."""
    rows: Counter = Counter()
    for fact in facts:
        at = fact.at.astimezone(UTC)
        quarter = at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)
        for grain, start in ((HOUR, quarter.replace(minute=0)), (DAY, _day_of_quarter(quarter, zone))):
            for key in _keys(fact, where, grain, start):
                rows[key] += 1
    return rows


HOUR, DAY = int(Grain.HOUR), int(Grain.DAY)


@lru_cache(maxsize=65536)
def _day_of_quarter(quarter: datetime, zone: ZoneInfo) -> datetime:
    """day_start for a quarter of an hour: every zone's offset is a whole number of quarters, so all of
    one quarter's moments fall in the same brand-time day. A rebuild asks for the same ones millions of times."""
    return day_start(quarter, zone)


def _keys(fact: Fact, where: Dimensions, grain: int, start: datetime) -> Iterator[Key]:
    tally = ("t", grain, start, where.queue_id, where.channel_id, where.message_type, where.sentiment)
    agent = ("a", grain, start, where.queue_id, fact.agent_id)
    if fact.measure in ("opened", "messages_in", "reopens"):
        yield (*tally, fact.measure)
    elif fact.measure in ("replies_out", "resolutions"):
        yield (*tally, fact.measure)
        yield (*agent, fact.measure)
    elif fact.measure == "response":
        clock = "first_response" if fact.first else "next_response"
        if fact.met is not None:
            yield (*tally, f"{clock}_{'met' if fact.met else 'missed'}")
            yield (*agent, "responses_met" if fact.met else "responses_missed")
        yield (*agent, "responses")
        business, wall = (
            (Measure.FIRST_RESPONSE_BUSINESS, Measure.FIRST_RESPONSE_WALL)
            if fact.first
            else (Measure.NEXT_RESPONSE_BUSINESS, Measure.NEXT_RESPONSE_WALL)
        )
        yield from _durations(fact, where, grain, start, business, wall)
        if fact.business_seconds is not None:
            yield ("r", grain, start, where.queue_id, fact.agent_id, bin_of(fact.business_seconds), "count")
    elif fact.measure == "resolution":
        if fact.met is not None:
            yield (*tally, f"resolution_{'met' if fact.met else 'missed'}")
        yield from _durations(fact, where, grain, start, Measure.RESOLUTION_BUSINESS, Measure.RESOLUTION_WALL)
    else:
        raise ValueError(f"unknown fact {fact.measure!r}")


def _durations(fact: Fact, where: Dimensions, grain: int, start: datetime, business, wall):
    yield ("d", grain, start, where.queue_id, int(wall), bin_of(fact.seconds), "count")
    if fact.business_seconds is not None:
        yield ("d", grain, start, where.queue_id, int(business), bin_of(fact.business_seconds), "count")


def hour_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def day_start(moment: datetime, zone: ZoneInfo) -> datetime:
    """The instant the brand-time day of this moment began, in UTC."""
    local = moment.astimezone(zone)
    return local_midnight(local.date(), zone)


def local_midnight(day, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


# --- Keeping them up to date ---


def refresh(conversation_ids: Iterable[int]) -> int:
    """Bring the rollups up to date with these conversations as they are now (deleted ones count no
    more). Safe to run twice and concurrently: each conversation's stored facts are locked while the
    difference between its rows then and now is added. Returns how many rollup rows changed."""
    ids = sorted(set(conversation_ids))
    if not ids:
        return 0
    zone = brand_zone()
    with transaction.atomic():
        ConversationFacts.objects.bulk_create(
            [ConversationFacts(conversation_id=pk) for pk in ids], ignore_conflicts=True
        )
        stored = ConversationFacts.objects.select_for_update().filter(conversation_id__in=ids).order_by("pk")
        delta: Counter = Counter()
        for facts in stored:
            if facts.facts:
                delta.subtract(rows_of(facts.dimensions(), [Fact.from_list(f) for f in facts.facts], zone))
        now = _facts_now(ids)
        for where, facts in now.values():
            delta.update(rows_of(where, facts, zone))
        changed = add_to_rollups(delta)
        ConversationFacts.objects.filter(conversation_id__in=[pk for pk in ids if pk not in now]).delete()
        ConversationFacts.objects.bulk_create(
            [ConversationFacts.of(pk, where, [fact.as_list() for fact in facts]) for pk, (where, facts) in now.items()],
            update_conflicts=True,
            unique_fields=["conversation_id"],
            update_fields=["queue_id", "channel_id", "message_type", "sentiment", "facts", "updated_at"],
        )
    return changed


def _facts_now(ids: list[int]) -> dict[int, tuple[Dimensions, list[Fact]]]:
    """Each existing conversation's dimensions and facts from its present state: three queries for the lot."""
    conversations = (
        Conversation.objects.filter(pk__in=ids)
        .select_related("queue__calendar")
        .only(*CONVERSATION_FIELDS, "queue__calendar")
    )
    # Rows as named tuples, not models: a chunk of a rebuild reads thousands of them.
    messages: dict[int, list] = {pk: [] for pk in ids}
    for message in Message.objects.filter(conversation_id__in=ids).values_list(*MESSAGE_FIELDS, named=True):
        messages[message.conversation_id].append(message)
    events: dict[int, list] = {pk: [] for pk in ids}
    status_changes = Event.objects.filter(conversation_id__in=ids, kind=Event.Kind.STATUS_CHANGED)
    for event in status_changes.values_list(*EVENT_FIELDS, named=True):
        events[event.conversation_id].append(event)
    return {c.pk: (dimensions_of(c), facts_of(c, messages[c.pk], events[c.pk], _hours(c))) for c in conversations}


CONVERSATION_FIELDS = (
    "queue",
    "channel",
    "message_type",
    "sentiment",
    "status",
    "assignee",
    "created_at",
    "first_response_at",
    "first_response_due_at",
    "resolved_at",
    "resolution_due_at",
    "sla_pauses",
)
MESSAGE_FIELDS = (
    "id",
    "conversation_id",
    "direction",
    "posted_at",
    "sent_by_id",
    "answered_wait_since",
    "answered_due_at",
    "answered_business_seconds",
)
EVENT_FIELDS = ("id", "conversation_id", "created_at", "actor_id", "data")


def _hours(conversation: Conversation) -> BusinessHours:
    queue = conversation.queue
    return queue.business_hours if queue is not None else BusinessHours.always_open()


def add_to_rollups(delta: Counter) -> int:
    """Add these amounts to the rollup rows (creating rows as needed), in key order so that two
    transactions doing it at once do not deadlock. Returns the number of rows touched."""
    grouped: dict[tuple, dict[str, int]] = {}
    for key, amount in delta.items():
        if amount:
            grouped.setdefault(key[:-1], {})[key[-1]] = amount
    touched = 0
    for code, model in TABLES.items():
        rows = sorted(row for row in grouped if row[0] == code)
        if rows:
            _upsert(model, [(row[1:], grouped[row]) for row in rows])
            touched += len(rows)
    return touched


def _upsert(model, rows: list[tuple[tuple, dict[str, int]]]) -> None:
    """INSERT ... ON CONFLICT DO UPDATE SET measure = measure + excluded.measure, for every row at once:
    on PostgreSQL one statement over arrays (unnest), elsewhere one statement a row."""
    table = model._meta.db_table
    keys = ["grain", "start", *model.DIMENSIONS]
    measures = list(model.MEASURES)
    columns = keys + measures
    values = [[*key, *(amounts.get(name, 0) for name in measures)] for key, amounts in rows]
    quote = connection.ops.quote_name
    conflict = f" ON CONFLICT ({', '.join(quote(c) for c in keys)}) DO UPDATE SET " + ", ".join(
        f"{quote(m)} = {quote(table)}.{quote(m)} + excluded.{quote(m)}" for m in measures
    )
    # Only names from the models' own fields go into the text; every value is a parameter.
    insert = f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) "
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            types = [model._meta.get_field(column).db_type(connection) for column in columns]
            arrays = ", ".join(f"%b::{kind}[]" for kind in types)
            statement = insert + f"SELECT * FROM unnest({arrays})" + conflict  # noqa: S608
            # Arrays sent in binary, bound by the server: psycopg dumps long ones far faster than as text
            # (Django's own cursors bind on the client, as text).
            with psycopg.Cursor(connection.connection) as raw:
                raw.execute(statement, [list(column) for column in zip(*values, strict=True)])
        else:
            adapt = connection.ops.adapt_datetimefield_value
            cursor.executemany(
                insert + f"VALUES ({', '.join(['%s'] * len(columns))})" + conflict,
                [[row[0], adapt(row[1]), *row[2:]] for row in values],
            )


def rebuild(*, progress=None, chunk: int = 5000, workers: int = 1) -> int:
    """Empty the rollups and add up every conversation again (after an upgrade, a change of the brand's
    time zone, or to repair them), chunk by chunk through `refresh`, so changes made meanwhile count
    once. `progress(done, total)` is called after each chunk. Returns the number of conversations.

    With `workers` > 1 (PostgreSQL only: SQLite has one writer), that many processes refresh chunks
    at once. Working out a chunk's facts is Python's work, one core each; refresh's locks keep two
    chunks that add to the same hour correct, and its ordered upserts keep them from deadlocking."""
    with transaction.atomic():
        for model in (*TABLES.values(), ConversationFacts):
            model.objects.all().delete()
    # In the order they opened: a chunk's facts then fall in the same hours and days, and add up into
    # far fewer rows than conversations taken in any other order.
    ids = list(Conversation.objects.order_by("created_at", "pk").values_list("pk", flat=True))
    chunks = [ids[offset : offset + chunk] for offset in range(0, len(ids), chunk)]
    done = 0
    for size in _refreshed(chunks, workers if connection.vendor == "postgresql" else 1):
        done += size
        if progress:
            progress(done, len(ids))
    return len(ids)


def _refreshed(chunks: list[list[int]], workers: int) -> Iterator[int]:
    """Refresh each chunk, here or in `workers` processes; yields each chunk's size as it is done."""
    if workers <= 1 or len(chunks) <= 1:
        yield from map(_refresh_chunk, chunks)
        return
    # Forked processes open their own connections: none may inherit this one's sockets, nor its
    # connection pool's (whose connections a child would otherwise take and share with this process).
    connections.close_all()
    for each in connections.all():
        if hasattr(each, "close_pool"):
            each.close_pool()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        yield from pool.map(_refresh_chunk, chunks)


def _refresh_chunk(ids: list[int]) -> int:
    refresh(ids)
    return len(ids)
