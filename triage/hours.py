"""Business hours: when a calendar is open, and when a target of N business minutes falls due.

This is the SLA clock's arithmetic, and nothing else computes business time. It imports no model, so
the rules can be read (and tested against a minute-by-minute walk) on their own:

- An instant is open when its wall-clock time in the calendar's timezone falls inside an opening
  slot of that weekday, and its local date is not a holiday. A slot that closes at or before the time
  it opens runs past midnight into the next day (22:00-06:00; 00:00-00:00 is the whole day); the
  part after midnight belongs to the next date, so a holiday closes it too.
- Wall-clock means what the office clock shows: on the night the clocks go forward the skipped hour
  does not exist and counts for nothing; on the night they go back the repeated hour counts twice,
  as the people working it are there twice.
- A pause (the conversation waits on the customer, or is snoozed) stops the clock; `None` as a
  pause's end means it has not ended.

Times are timezone-aware datetimes; results are in UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Interval = tuple[datetime, datetime]
Pause = tuple[datetime, datetime | None]

# How far ahead a deadline is looked for: a calendar open a few hours a year still gets one; a target
# further away than this is "never" (shown as no due time), not a loop without end.
HORIZON = timedelta(days=3 * 366)
_WINDOW = timedelta(days=3)  # most targets fall due within a few days: look that far at a time
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Slot:
    """Open on `weekday` (0 = Monday) from `opens` to `closes`, wall-clock time."""

    weekday: int
    opens: time
    closes: time

    @property
    def past_midnight(self) -> bool:
        return self.closes <= self.opens

    def on(self, day: date) -> tuple[datetime, datetime]:
        """This slot's wall-clock interval when it opens on `day` (naive datetimes)."""
        end_day = day + _DAY if self.past_midnight else day
        return datetime.combine(day, self.opens), datetime.combine(end_day, self.closes)

    def __str__(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {self.opens:%H:%M}-{self.closes:%H:%M}"


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def overlaps(slots: Iterable[Slot]) -> list[tuple[Slot, Slot]]:
    """Pairs of slots that are open at the same wall-clock time in some week (a calendar refuses them)."""
    week = []
    for slot in slots:
        start, end = slot.on(date(2024, 1, 1) + timedelta(days=slot.weekday))  # 2024-01-01 is a Monday
        week.append((start, end, slot))
        # A Sunday slot past midnight runs into next Monday: compare it at the start of the week too.
        week.append((start - timedelta(days=7), end - timedelta(days=7), slot))
    week.sort(key=lambda entry: entry[0])
    clashes = []
    for index, (_start, end, slot) in enumerate(week):
        for other_start, _other_end, other in week[index + 1 :]:
            if other_start >= end:
                break
            if other is not slot and (other, slot) not in clashes and (slot, other) not in clashes:
                clashes.append((slot, other))
    return clashes


@dataclass(frozen=True)
class BusinessHours:
    timezone: ZoneInfo
    slots: tuple[Slot, ...]
    holidays: frozenset[date] = frozenset()

    @classmethod
    def always_open(cls) -> BusinessHours:
        return cls(ZoneInfo("UTC"), tuple(Slot(day, time(0), time(0)) for day in range(7)))

    def is_open(self, instant: datetime) -> bool:
        """The rule itself, for one instant (the tests' reference; open_intervals is the fast form)."""
        local = instant.astimezone(self.timezone)
        if local.date() in self.holidays:
            return False
        wall = local.time().replace(tzinfo=None, fold=0)
        weekday = local.weekday()
        for slot in self.slots:
            if slot.weekday == weekday and slot.opens <= wall and (slot.past_midnight or wall < slot.closes):
                return True
            if slot.past_midnight and slot.weekday == (weekday - 1) % 7 and wall < slot.closes:
                return True
        return False

    def open_intervals(self, start: datetime, end: datetime) -> Iterator[Interval]:
        """The open stretches within [start, end), in order, disjoint, in UTC."""
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        if start >= end or not self.slots:
            return
        segments = _offset_segments(self.timezone, start - _DAY, end + _DAY)
        pieces = []
        for wall_start, wall_end in self._wall_intervals(start, end):
            for segment_start, segment_end, offset in segments:
                piece_start = max(segment_start, wall_start.replace(tzinfo=UTC) - offset, start)
                piece_end = min(segment_end, wall_end.replace(tzinfo=UTC) - offset, end)
                if piece_start < piece_end:
                    pieces.append((piece_start, piece_end))
        yield from _merged(pieces)

    def business_minutes(self, start: datetime, end: datetime, pauses: Iterable[Pause] = ()) -> float:
        """Open, unpaused minutes between start and end."""
        running = _without(self.open_intervals(start, end), _closed(pauses, end))
        return sum((b - a).total_seconds() for a, b in running) / 60

    def due_at(self, start: datetime, minutes: float, pauses: Iterable[Pause] = ()) -> datetime | None:
        """When `minutes` of open, unpaused time have passed since `start`; None if never (a pause that
        has not ended, or no opening within HORIZON)."""
        start = start.astimezone(UTC)
        pauses = list(pauses)  # read once per window
        left = timedelta(minutes=minutes)
        if left <= timedelta(0):
            return start
        window_start = start
        while window_start < start + HORIZON:
            window_end = window_start + _WINDOW
            for a, b in _without(self.open_intervals(window_start, window_end), _closed(pauses, window_end)):
                if b - a >= left:
                    return a + left
                left -= b - a
            if any(pause_end is None and pause_start < window_end for pause_start, pause_end in pauses):
                return None  # the clock is stopped from here on
            window_start = window_end
        return None

    def _wall_intervals(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """Opening slots as naive wall-clock intervals covering [start, end), holidays cut out."""
        first = start.astimezone(self.timezone).date() - 2 * _DAY
        last = end.astimezone(self.timezone).date() + _DAY
        walls = []
        day = first
        while day <= last:
            for slot in self.slots:
                if slot.weekday == day.weekday():
                    walls.extend(self._cut_holidays(*slot.on(day)))
            day += _DAY
        return list(_merged(walls))

    def _cut_holidays(self, wall_start: datetime, wall_end: datetime) -> Iterator[tuple[datetime, datetime]]:
        cursor = wall_start
        while cursor < wall_end:
            midnight = datetime.combine(cursor.date() + _DAY, time(0))
            piece_end = min(midnight, wall_end)
            if cursor.date() not in self.holidays:
                yield cursor, piece_end
            cursor = piece_end


def _offset_segments(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, datetime, timedelta]]:
    """[start, end) cut where the zone's UTC offset changes: (from, to, offset) in UTC.

    zoneinfo does not list its transitions, so they are found by sampling each day and bisecting on
    whole seconds (transitions fall on whole seconds; no zone changes twice within a day).
    """
    segments = []
    segment_start = start
    offset = start.astimezone(zone).utcoffset()
    probe = start
    while probe < end:
        step = min(probe + _DAY, end)
        if step.astimezone(zone).utcoffset() != offset:
            low, high = int(probe.timestamp()), int(step.timestamp()) + 1  # old offset at low, new at high
            while high - low > 1:
                middle = (low + high) // 2
                if datetime.fromtimestamp(middle, UTC).astimezone(zone).utcoffset() == offset:
                    low = middle
                else:
                    high = middle
            change = datetime.fromtimestamp(high, UTC)
            segments.append((segment_start, change, offset))
            segment_start, offset = change, change.astimezone(zone).utcoffset()
        probe = step
    segments.append((segment_start, end, offset))
    return segments


def _merged(intervals: Iterable[Interval]) -> Iterator[Interval]:
    current = None
    for a, b in sorted(intervals):
        if current and a <= current[1]:
            current = (current[0], max(current[1], b))
        else:
            if current:
                yield current
            current = (a, b)
    if current:
        yield current


def _closed(pauses: Iterable[Pause], until: datetime) -> list[Interval]:
    """Pauses as closed intervals; one that has not ended lasts past `until`."""
    return list(_merged((a.astimezone(UTC), (b or until + _DAY).astimezone(UTC)) for a, b in pauses))


def _without(intervals: Iterable[Interval], holes: list[Interval]) -> Iterator[Interval]:
    """`intervals` minus `holes` (both sorted and disjoint)."""
    for a, b in intervals:
        cursor = a
        for hole_start, hole_end in holes:
            if hole_end <= cursor or hole_start >= b:
                continue
            if hole_start > cursor:
                yield cursor, hole_start
            cursor = max(cursor, hole_end)
        if cursor < b:
            yield cursor, b
