"""Every figure a report shows, from the rollups: one code path for the cards, tables, charts, CSV and API.

`Period.from_query` reads what a request asks for (or says why not); `collect` sums the rollup rows
of a period into `Figures`, grouped by bucket and/or by a dimension; everything else reads those.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, Sum
from django.utils import timezone

from inbox.models import ACTIVE_STATUSES, Channel, Conversation, Status
from reports.durations import percentile
from reports.models import AgentTally, Durations, Grain, Measure, ResponseTimes, Tally
from reports.rollups import brand_zone, local_midnight
from socialcrm.errors import Refused
from socialcrm.formatting import person
from triage.models import MessageType, Queue, Sentiment

BUCKETS = {"hour": "Hour", "day": "Day", "week": "Week"}
GROUPS = {"queue": "Queue", "agent": "Agent", "channel": "Channel", "type": "Type and sentiment"}
EARLIEST = date(2000, 1, 1)
LONGEST = {"hour": 31, "day": 3 * 366, "week": 3 * 366}  # days a period may span, by bucket
CLOCKS = {"first_response": "First response", "next_response": "Next response", "resolution": "Resolution"}
OPEN_STATUSES = [status for status in Status.values if status != Status.RESOLVED]
COUNTED = frozenset(Tally.MEASURES) | frozenset(AgentTally.MEASURES)


class ReportRefused(Refused):
    """A report's parameters that cannot be answered (a 400 that says why)."""


@dataclass(frozen=True)
class Period:
    """Brand-time days from `first` to `last` (both included), bucketed by hour, day or week, in one
    queue or all of them."""

    first: date
    last: date
    bucket: str = "day"
    queue: Queue | None = None

    @classmethod
    def from_query(cls, query, *, today: date | None = None, default_days: int = 7) -> "Period":
        """From `from`, `to` (YYYY-MM-DD), `bucket` and `queue` (a slug); the last `default_days`
        days up to yesterday when no dates are given. Raises ReportRefused saying what is wrong."""
        today = today or timezone.now().astimezone(brand_zone()).date()
        last = _day(query.get("to"), "to") or today - timedelta(days=1)
        first = _day(query.get("from"), "from") or last - timedelta(days=default_days - 1)
        bucket = query.get("bucket") or "day"
        if bucket not in BUCKETS:
            raise ReportRefused(f"Unknown bucket {bucket!r}; use one of: {', '.join(BUCKETS)}")
        if first > last:
            raise ReportRefused(f"'from' ({first}) is after 'to' ({last})")
        if first < EARLIEST or last > today + timedelta(days=366):
            raise ReportRefused(f"Choose days between {EARLIEST} and a year from today")
        if (last - first).days + 1 > LONGEST[bucket]:
            raise ReportRefused(f"A report by {bucket} covers at most {LONGEST[bucket]} days; choose a wider bucket")
        queue = None
        if slug := query.get("queue"):
            queue = Queue.objects.filter(slug=slug).first()
            if queue is None:
                raise ReportRefused(f"Unknown queue {slug!r}")
        return cls(first=first, last=last, bucket=bucket, queue=queue)

    @property
    def start(self) -> datetime:
        return local_midnight(self.first, brand_zone())

    @property
    def end(self) -> datetime:
        return local_midnight(self.last + timedelta(days=1), brand_zone())

    @property
    def grain(self) -> int:
        return Grain.HOUR if self.bucket == "hour" else Grain.DAY

    def bucket_of(self, start: datetime) -> datetime:
        """The bucket (its first instant, in brand time) a rollup row's start falls in."""
        local = start.astimezone(brand_zone())
        if self.bucket == "hour":
            return local.replace(minute=0, second=0, microsecond=0)
        day = local.date()
        if self.bucket == "week":
            day -= timedelta(days=day.weekday())
        return local_midnight(day, brand_zone()).astimezone(brand_zone())

    def buckets(self) -> list[tuple[datetime, datetime]]:
        """Every bucket of the period in order, empty ones too: (start, end) in brand time."""
        zone = brand_zone()
        edges: list[datetime] = []
        if self.bucket == "hour":
            moment = self.start
            while moment < self.end:
                edges.append(moment.astimezone(zone))
                moment += timedelta(hours=1)
        else:
            day = self.first - timedelta(days=self.first.weekday() if self.bucket == "week" else 0)
            step = timedelta(days=7 if self.bucket == "week" else 1)
            while day <= self.last:
                edges.append(local_midnight(day, zone).astimezone(zone))
                day += step
        ends = [*edges[1:], self.end.astimezone(zone)]
        return [(start, min(end, self.end.astimezone(zone))) for start, end in zip(edges, ends, strict=True)]

    def as_query(self) -> dict[str, str]:
        query = {"from": self.first.isoformat(), "to": self.last.isoformat(), "bucket": self.bucket}
        if self.queue:
            query["queue"] = self.queue.slug
        return query


def _day(raw: str | None, name: str) -> date | None:
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ReportRefused(f"'{name}' must be a date written YYYY-MM-DD, not {raw[:20]!r}") from None


@dataclass
class Figures:
    """The sums of a slice of the rollups, with the figures read from them."""

    counts: Counter = field(default_factory=Counter)
    durations: dict[int, Counter] = field(default_factory=lambda: defaultdict(Counter))

    def __getitem__(self, measure: str) -> int:
        # Only measures: a template's `figures.reopen_rate` must not read as a count of zero.
        if measure not in COUNTED:
            raise KeyError(measure)
        return self.counts[measure]

    def add(self, other: "Figures") -> None:
        self.counts.update(other.counts)
        for measure, bins in other.durations.items():
            self.durations[measure].update(bins)

    def percentile(self, measure: int, share: float) -> float | None:
        return percentile(self.durations.get(measure, Counter()).items(), share)

    def median(self, measure: int) -> float | None:
        return self.percentile(measure, 0.5)

    def p90(self, measure: int) -> float | None:
        return self.percentile(measure, 0.9)

    def met_share(self, clock: str) -> float | None:
        """The share of this clock's targets met, of those that came due (None when none did)."""
        met, missed = self.counts[f"{clock}_met"], self.counts[f"{clock}_missed"]
        return met / (met + missed) if met + missed else None

    def targets_met_share(self) -> float | None:
        met = sum(self.counts[f"{clock}_met"] for clock in CLOCKS)
        due = met + sum(self.counts[f"{clock}_missed"] for clock in CLOCKS)
        return met / due if due else None

    @property
    def reopen_rate(self) -> float | None:
        return self.counts["reopens"] / self.counts["resolutions"] if self.counts["resolutions"] else None

    def response_median(self) -> float | None:
        """An agent's median response time (first and next responses, business time)."""
        return self.median(Measure.RESPONSE_BUSINESS)


def collect(
    period: Period, *, by_bucket: bool = False, group: str | None = None, durations_by_group: bool = True
) -> dict[tuple, Figures]:
    """Sum the period's rollup rows into Figures, keyed by (bucket start or None, group key or None).

    group: None, "queue", "agent", "channel" or "type" (type and sentiment). Agents' figures come from
    their own rollups (replies, resolutions, responses, response times); the others from the
    conversations' tally, with the queues' durations (by queue, or with durations_by_group=False under
    the group None only, when a page shows no group's percentiles).
    """
    if group is not None and group not in GROUPS:
        raise ReportRefused(f"Unknown grouping {group!r}; use one of: {', '.join(GROUPS)}")
    figures: dict[tuple, Figures] = defaultdict(Figures)
    buckets: dict[datetime, datetime] = {}
    # By bucket, rows are summed per rollup start and then into buckets; otherwise the database sums
    # the whole period (90 days of an agent's histogram are one row per bin, not 90).
    lead = ["start"] if by_bucket else []

    def split(row: tuple, width: int) -> tuple[tuple, tuple]:
        """A row's key, (bucket start or None, group key or None), and the values after it."""
        bucket = None
        if by_bucket:
            start, row = row[0], row[1:]
            if start not in buckets:  # a few hundred starts for tens of thousands of rows
                buckets[start] = period.bucket_of(start)
            bucket = buckets[start]
        return (bucket, tuple(row[:width]) or None), row[width:]

    rows = {"grain": period.grain, "start__gte": period.start, "start__lt": period.end}
    if period.queue is not None:
        rows["queue_id"] = period.queue.pk
    tally = AgentTally if group == "agent" else Tally
    dims = {
        None: [],
        "queue": ["queue_id"],
        "agent": ["agent_id"],
        "channel": ["channel_id"],
        "type": ["message_type", "sentiment"],
    }[group]
    # Tuples, not dicts: a two-year daily export reads a couple of hundred thousand histogram rows.
    sums = [Sum(m) for m in tally.MEASURES]
    tallied = tally.objects.filter(**rows)
    if lead or dims:
        tallied = tallied.values_list(*lead, *dims).annotate(*sums).order_by()
    else:  # the period's one total (values_list() of nothing would group by every column)
        whole = tuple(tallied.aggregate(*sums).values())
        tallied = [] if None in whole else [whole]
    for row in tallied:
        key, counts = split(row, len(dims))
        figures[key].counts.update(dict(zip(tally.MEASURES, counts, strict=True)))
    if group == "agent":
        histogram = ResponseTimes.objects.filter(**rows).values_list(*lead, "agent_id", "bin")
        for row in histogram.annotate(Sum("count")).order_by():
            key, (bin_, n) = split(row, 1)
            figures[key].durations[Measure.RESPONSE_BUSINESS][bin_] += n
    elif group in (None, "queue"):
        by = dims if durations_by_group else []
        histogram = Durations.objects.filter(**rows).values_list(*lead, *by, "measure", "bin")
        for row in histogram.annotate(Sum("count")).order_by():
            key, (measure, bin_, n) = split(row, len(by))
            figures[key].durations[measure][bin_] += n
    return figures


def total(period: Period) -> Figures:
    return collect(period).get((None, None), Figures())


def over_time(period: Period, *, group: str | None = None) -> list[tuple[datetime, datetime, dict, Figures]]:
    """Each bucket of the period: (start, end, {group key: Figures}, the bucket's total Figures)."""
    collected = collect(period, by_bucket=True, group=group, durations_by_group=False)
    by_bucket: dict[datetime, dict] = defaultdict(dict)
    for (bucket, key), figures in collected.items():
        by_bucket[bucket][key] = figures
    result = []
    for start, end in period.buckets():
        groups = by_bucket.get(start, {})
        whole = Figures()
        for figures in groups.values():
            whole.add(figures)
        # The bucket's durations came under no group; the groups are what has counts.
        groups = {key: figures for key, figures in groups.items() if key is not None or group is None}
        result.append((start, end, groups, whole))
    return result


def backlog(period: Period) -> list[int]:
    """Open conversations at the end of each bucket: the ones open now, less what opened (or reopened)
    since, plus what was resolved since, all from the rollups of the days after."""
    conversations = Conversation.objects.filter(status__in=OPEN_STATUSES)
    rows = Tally.objects.filter(start__gte=period.start)
    if period.queue is not None:
        conversations = conversations.filter(queue=period.queue)
        rows = rows.filter(queue_id=period.queue.pk)
    open_now = conversations.count()
    net = Sum("opened") + Sum("reopens") - Sum("resolutions")
    after_end = rows.filter(grain=Grain.DAY, start__gte=period.end).aggregate(n=net)["n"] or 0
    inside = dict(
        rows.filter(grain=period.grain, start__lt=period.end)
        .values("start")
        .annotate(n=net)
        .order_by()
        .values_list("start", "n")
    )
    by_bucket: Counter = Counter()
    for start, n in inside.items():
        by_bucket[period.bucket_of(start)] += n
    levels, level = [], open_now - after_end
    for start, _end in reversed(period.buckets()):
        levels.append(level)
        level -= by_bucket[start]
    return list(reversed(levels))


@dataclass(frozen=True)
class Group:
    """One row of a by-queue/agent/channel/type table."""

    key: tuple
    label: str
    figures: Figures
    link: dict[str, str]  # the inbox filters that list its conversations ({} when none does)
    open_load: int | None = None


def breakdown(period: Period, group: str) -> list[Group]:
    """The period's figures by queue, agent, channel or type and sentiment, busiest first."""
    collected = {key: figures for (_, key), figures in collect(period, group=group).items()}
    if group == "queue":
        names = {q.pk: q for q in Queue.objects.all()}
        rows = [
            Group(key, names[key[0]].name if key[0] in names else "No queue", f, _queue_link(names.get(key[0])))
            for key, f in collected.items()
        ]
    elif group == "agent":
        agents = {u.pk: u for u in get_user_model().objects.filter(pk__in=[k[0] for k in collected])}
        load = dict(
            Conversation.objects.filter(
                status__in=OPEN_STATUSES, assignee__isnull=False, **({"queue": period.queue} if period.queue else {})
            )
            .values("assignee")
            .annotate(n=Count("*"))  # not Count("pk"): the open-load index alone answers COUNT(*)
            .values_list("assignee", "n")
        )
        rows = [
            Group(
                key,
                person(agents.get(key[0]), "Former colleague"),
                f,
                {"assignee": str(key[0])},
                open_load=load.get(key[0], 0),
            )
            for key, f in collected.items()
            if key[0]
        ]
    elif group == "channel":
        channels = {c.pk: c for c in Channel.objects.all()}
        rows = [
            Group(key, _channel_label(channels.get(key[0])), f, _network_link(channels.get(key[0])))
            for key, f in collected.items()
        ]
    else:
        types, moods = dict(MessageType.choices), dict(Sentiment.choices)
        rows = [
            Group(
                key,
                f"{types.get(key[0], 'Not triaged')} · {moods.get(key[1], 'no sentiment')}",
                f,
                {k: v for k, v in (("type", key[0]), ("sentiment", key[1])) if v},
            )
            for key, f in collected.items()
        ]
    busiest = "replies_out" if group == "agent" else "opened"
    return sorted(rows, key=lambda g: (-g.figures[busiest], -g.figures["messages_in"], g.label))


def _queue_link(queue) -> dict[str, str]:
    return {"queue": queue.slug} if queue else {}


def _channel_label(channel) -> str:
    return f"{channel.name} ({channel.get_network_display()})" if channel else "Deleted channel"


def _network_link(channel) -> dict[str, str]:
    return {"network": channel.network} if channel and channel.network else {}


def open_breaches(period: Period) -> int:
    """Open conversations past an SLA due time now (the live figure beside the period's)."""
    # As the queue board counts breaches (the clocks of new and open conversations run).
    conversations = Conversation.objects.filter(status__in=ACTIVE_STATUSES, sla_due_at__lt=timezone.now())
    if period.queue is not None:
        conversations = conversations.filter(queue=period.queue)
    return conversations.count()
