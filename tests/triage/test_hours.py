"""The business-hours clock against the rule itself, walked minute by minute.

`BusinessHours.is_open` states the rule for one instant; the reference below walks UTC minutes
with it. The fast functions (`due_at`, `business_minutes`) must agree exactly, over random weekly
calendars (split shifts, slots past midnight, whole days), holidays, pauses and start times that
cluster around both DST changes of zones with whole-hour, half-hour and no DST.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triage.hours import BusinessHours, Slot, overlaps

# Each zone with the instants (UTC) its clocks change in 2026, to start near (a mid-year day for zones
# without DST).
ZONES = {
    "Europe/Berlin": [datetime(2026, 3, 29, 1), datetime(2026, 10, 25, 1)],
    "America/New_York": [datetime(2026, 3, 8, 7), datetime(2026, 11, 1, 6)],
    "Australia/Sydney": [datetime(2026, 4, 4, 16), datetime(2026, 10, 3, 16)],  # southern: back in April
    "Australia/Lord_Howe": [datetime(2026, 4, 4, 15), datetime(2026, 10, 3, 15, 30)],  # half an hour
    "Pacific/Chatham": [datetime(2026, 4, 4, 14), datetime(2026, 9, 26, 14)],  # +12:45 / +13:45
    "Asia/Kolkata": [datetime(2026, 6, 15)],  # +05:30, no DST
    "UTC": [datetime(2026, 6, 15)],
}
MINUTE = timedelta(minutes=1)
WALK_LIMIT = timedelta(days=21)

# Half the slot edges fall in the small hours, where the clocks change.
hours_of_day = st.one_of(st.integers(0, 23), st.integers(1, 3))
wall_times = st.builds(time, hours_of_day, st.sampled_from([0, 15, 30, 45, 59]))
slots = st.builds(Slot, st.integers(0, 6), wall_times, wall_times)


@st.composite
def calendars_and_starts(draw):
    """A calendar and a minute-aligned start within three days of one of its zone's clock changes."""
    name = draw(st.sampled_from(sorted(ZONES)))
    change = draw(st.sampled_from(ZONES[name])).replace(tzinfo=UTC)
    start = change + timedelta(minutes=draw(st.integers(-3 * 1440, 3 * 1440)))
    holidays = frozenset(
        change.date() + timedelta(days=offset) for offset in draw(st.lists(st.integers(-3, 10), max_size=4))
    )
    return BusinessHours(ZoneInfo(name), tuple(draw(st.lists(slots, min_size=1, max_size=9))), holidays), start


@st.composite
def pause_lists(draw, start):
    pauses = []
    for _ in range(draw(st.integers(0, 3))):
        begins = start + timedelta(minutes=draw(st.integers(-600, 6000)))
        length = draw(st.one_of(st.none(), st.integers(1, 3000)))
        pauses.append((begins, None if length is None else begins + timedelta(minutes=length)))
    return pauses


def paused(instant, pauses):
    return any(a <= instant and (b is None or instant < b) for a, b in pauses)


def walk_due_at(hours, start, minutes, pauses):
    """The reference: count open, unpaused minutes one at a time."""
    instant, counted = start, 0
    while counted < minutes:
        if instant - start > WALK_LIMIT:
            return None
        if hours.is_open(instant) and not paused(instant, pauses):
            counted += 1
        instant += MINUTE
    return instant


the_walk = settings(max_examples=250, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@the_walk
@given(case=calendars_and_starts(), minutes=st.integers(1, 1500), data=st.data())
def test_due_at_agrees_with_the_minute_walk(case, minutes, data):
    hours, start = case
    pauses = data.draw(pause_lists(start))
    expected = walk_due_at(hours, start, minutes, pauses)
    got = hours.due_at(start, minutes, pauses)
    if expected is None:  # beyond the walk: the fast answer is later, or never
        assert got is None or got - start > WALK_LIMIT
    else:
        assert got == expected


@the_walk
@given(case=calendars_and_starts(), length=st.integers(0, 4 * 1440), data=st.data())
def test_business_minutes_agree_with_the_minute_walk(case, length, data):
    hours, start = case
    pauses = data.draw(pause_lists(start))
    end = start + timedelta(minutes=length)
    expected = sum(hours.is_open(start + n * MINUTE) and not paused(start + n * MINUTE, pauses) for n in range(length))
    assert hours.business_minutes(start, end, pauses) == expected


BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS_9_TO_5 = BusinessHours(BERLIN, tuple(Slot(day, time(9), time(17)) for day in range(5)))


def berlin(*args):
    return datetime(*args, tzinfo=BERLIN)


def test_a_target_set_on_friday_afternoon_falls_due_on_monday():
    # Friday 4 Dec 2026, 16:00: one business hour left that day, the second on Monday at 09:00-10:00.
    assert WEEKDAYS_9_TO_5.due_at(berlin(2026, 12, 4, 16, 0), 120) == berlin(2026, 12, 7, 10, 0)


def test_a_holiday_is_skipped():
    hours = BusinessHours(BERLIN, WEEKDAYS_9_TO_5.slots, frozenset({date(2026, 12, 7)}))
    assert hours.due_at(berlin(2026, 12, 4, 16, 0), 120) == berlin(2026, 12, 8, 10, 0)


def test_a_night_shift_past_midnight_counts_into_the_next_morning():
    nights = BusinessHours(BERLIN, (Slot(4, time(22), time(6)),))  # Friday 22:00 to Saturday 06:00
    assert nights.due_at(berlin(2026, 12, 4, 21, 0), 7 * 60) == berlin(2026, 12, 5, 5, 0)
    assert nights.business_minutes(berlin(2026, 12, 4), berlin(2026, 12, 6)) == 8 * 60


def test_the_hour_the_clocks_skip_counts_for_nothing_and_the_repeated_one_twice():
    night = BusinessHours(BERLIN, tuple(Slot(day, time(0), time(6)) for day in range(7)))
    assert night.business_minutes(berlin(2026, 3, 29), berlin(2026, 3, 30)) == 5 * 60  # 02:00-03:00 skipped
    assert night.business_minutes(berlin(2026, 10, 25), berlin(2026, 10, 26)) == 7 * 60  # 02:00-03:00 twice


def test_a_slot_that_starts_inside_the_changing_hour():
    small_hours = BusinessHours(BERLIN, tuple(Slot(day, time(2, 30), time(3, 30)) for day in range(7)))
    # Spring: 02:30-03:00 does not exist that night. Autumn: 02:30-03:00 happens twice.
    assert small_hours.business_minutes(berlin(2026, 3, 29, 0, 7), berlin(2026, 3, 30)) == 30
    assert small_hours.business_minutes(berlin(2026, 10, 25, 0, 7), berlin(2026, 10, 26)) == 90


def test_a_pause_stops_the_clock_and_one_not_ended_means_no_due_time():
    start = berlin(2026, 12, 7, 9, 0)
    paused_an_hour = [(berlin(2026, 12, 7, 10, 0), berlin(2026, 12, 7, 11, 0))]
    assert WEEKDAYS_9_TO_5.due_at(start, 120, paused_an_hour) == berlin(2026, 12, 7, 12, 0)
    assert WEEKDAYS_9_TO_5.due_at(start, 120, [(berlin(2026, 12, 7, 10, 0), None)]) is None
    assert WEEKDAYS_9_TO_5.due_at(start, 60, [(berlin(2026, 12, 7, 10, 0), None)]) == berlin(2026, 12, 7, 10, 0)


def test_always_open_is_wall_clock_time():
    start = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    assert BusinessHours.always_open().due_at(start, 90) == start + timedelta(minutes=90)


def test_a_calendar_with_no_opening_never_falls_due():
    assert BusinessHours(BERLIN, ()).due_at(berlin(2026, 12, 7), 60) is None


@pytest.mark.parametrize(
    ("slots", "clash"),
    [
        ([Slot(0, time(9), time(12)), Slot(0, time(11), time(17))], True),
        ([Slot(0, time(9), time(12)), Slot(0, time(12), time(17))], False),  # touching is a split shift
        ([Slot(0, time(22), time(6)), Slot(1, time(5), time(9))], True),  # the night shift runs into Tuesday
        ([Slot(6, time(22), time(2)), Slot(0, time(1), time(9))], True),  # Sunday night into Monday
        ([Slot(6, time(22), time(2)), Slot(0, time(2), time(9))], False),
    ],
)
def test_overlapping_slots_are_found(slots, clash):
    assert bool(overlaps(slots)) is clash
