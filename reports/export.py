"""The reports' CSV files: a row per conversation or per day, streamed row by row (constant memory)."""

import csv
from collections.abc import AsyncIterator, Iterable, Iterator
from itertools import islice

from asgiref.sync import sync_to_async
from django.db.models import Count, F, OuterRef, Subquery
from django.db.models.functions import Coalesce

from inbox.models import Conversation, Message
from reports import figures
from reports.figures import CLOCKS, Period
from reports.models import Measure
from reports.rollups import brand_zone

CONVERSATION_COLUMNS = [
    "conversation_id",
    "queue",
    "channel",
    "network",
    "customer_id",
    "customer",
    "status",
    "assignee",
    "opened",
    "first_response",
    "resolved",
    "first_response_met",
    "responses_on_time",
    "responses_late",
    "resolution_met",
]


def conversation_rows(period: Period) -> Iterator[list]:
    """One row per conversation opened in the period (in its queue, if the period names one): ids,
    queue, channel, customer, opened, first response, resolved, each SLA target met or not, assignee.
    Read from the database in chunks through a server-side cursor; times in the brand's time zone."""
    yield CONVERSATION_COLUMNS
    conversations = Conversation.objects.filter(created_at__gte=period.start, created_at__lt=period.end)
    if period.queue is not None:
        conversations = conversations.filter(queue=period.queue)
    answered = Message.objects.filter(conversation=OuterRef("pk"), answered_due_at__isnull=False)
    counted = answered.order_by().values("conversation").annotate(n=Count("pk")).values("n")
    late = (
        answered.filter(answered_due_at__lt=F("posted_at"))
        .order_by()
        .values("conversation")
        .annotate(n=Count("pk"))
        .values("n")
    )
    rows = (
        conversations.annotate(
            timed=Coalesce(Subquery(counted), 0),
            late=Coalesce(Subquery(late), 0),
        )
        .order_by("created_at", "pk")
        .values_list(
            "pk",
            "queue__name",
            "channel__name",
            "channel__network",
            "customer_id",
            "customer__name",
            "status",
            "assignee__username",
            "created_at",
            "first_response_at",
            "first_response_due_at",
            "resolved_at",
            "resolution_due_at",
            "timed",
            "late",
        )
    )
    zone = brand_zone()
    for (
        pk,
        queue,
        channel,
        network,
        customer_id,
        customer,
        status,
        assignee,
        opened,
        first_response,
        first_due,
        resolved,
        resolution_due,
        timed,
        late_count,
    ) in rows.iterator(chunk_size=2000):
        yield [
            pk,
            queue or "",
            channel,
            network,
            customer_id,
            customer,
            status,
            assignee or "",
            _local(opened, zone),
            _local(first_response, zone),
            _local(resolved, zone),
            _met(first_response, first_due),
            timed - late_count,
            late_count,
            _met(resolved, resolution_due),
        ]


def _local(moment, zone) -> str:
    return moment.astimezone(zone).isoformat(timespec="seconds") if moment else ""


def _met(done, due) -> str:
    """'yes' or 'no' once the clock stopped; '' while it runs or where there was no target."""
    if due is None or done is None:
        return ""
    return "yes" if done <= due else "no"


DURATIONS = [
    ("first_response", Measure.FIRST_RESPONSE_BUSINESS, Measure.FIRST_RESPONSE_WALL),
    ("next_response", Measure.NEXT_RESPONSE_BUSINESS, Measure.NEXT_RESPONSE_WALL),
    ("resolution", Measure.RESOLUTION_BUSINESS, Measure.RESOLUTION_WALL),
]
COUNTS = ["opened", "messages_in", "replies_out", "resolutions", "reopens"]


def day_columns() -> list[str]:
    columns = ["day", *COUNTS, "reopen_rate"]
    for name, *_ in DURATIONS:
        columns += [f"{name}_{p}_{clock}_seconds" for clock in ("business", "wall") for p in ("median", "p90")]
    for clock in CLOCKS:
        columns += [f"{clock}_met", f"{clock}_missed", f"{clock}_met_share"]
    return [*columns, "backlog_at_end"]


def day_rows(period: Period) -> Iterator[list]:
    """One row per brand-time day of the period, with every figure the overview shows for it."""
    yield day_columns()
    levels = figures.backlog(period)
    for (start, _end, _groups, day), backlog in zip(figures.over_time(period), levels, strict=True):
        row = [start.date().isoformat(), *(day[name] for name in COUNTS), _ratio(day.reopen_rate)]
        for _name, business, wall in DURATIONS:
            for measure in (business, wall):
                row += [_seconds(day.median(measure)), _seconds(day.p90(measure))]
        for clock in CLOCKS:
            row += [day[f"{clock}_met"], day[f"{clock}_missed"], _ratio(day.met_share(clock))]
        yield [*row, backlog]


def _seconds(value: float | None) -> str:
    return "" if value is None else str(round(value))


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


GROUPS = {"conversation": conversation_rows, "day": day_rows}

# A cell that starts like a formula is a formula to a spreadsheet: customer names are customer-written.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Line:
    def write(self, value: str) -> str:
        return value


LINES_PER_CHUNK = 500


def as_csv(rows: Iterable[list]) -> Iterator[str]:
    """CSV text in chunks of LINES_PER_CHUNK lines; text cells that a spreadsheet would run as
    formulas are quoted with '."""
    writer = csv.writer(_Line())
    rows = iter(rows)
    while chunk := list(islice(rows, LINES_PER_CHUNK)):
        yield "".join(writer.writerow([_inert(cell) for cell in row]) for row in chunk)


async def as_csv_async(rows: Iterable[list]) -> AsyncIterator[str]:
    """as_csv for an ASGI server, which would otherwise read a synchronous iterator to its end into
    memory before sending a byte: each chunk is made in Django's one sync thread (where the database
    cursor lives) and sent before the next is read."""
    chunks = as_csv(rows)
    next_chunk = sync_to_async(lambda: next(chunks, None), thread_sensitive=True)
    while (chunk := await next_chunk()) is not None:
        yield chunk


def _inert(cell):
    if isinstance(cell, str) and cell.startswith(_FORMULA_START):
        return "'" + cell
    return cell
