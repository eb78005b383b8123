"""Holidays from an iCalendar (.ics) file, as public-holiday calendars publish them (RFC 5545).

Only what a holiday list needs is read: each VEVENT's DTSTART, DTEND (exclusive, for all-day
events that last several days) and SUMMARY. A repeating event (RRULE) is reported, not expanded:
holiday files list each year's dates, and guessing a rule's dates would put a closed day in the
wrong place without anyone noticing.
"""

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from socialcrm.errors import Refused

MAX_BYTES = 1_000_000
MAX_DAYS = 31  # one event closing the calendar for longer is a mistake, not a holiday

_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})(T\d{6}Z?)?$")


@dataclass
class Holidays:
    dates: dict[date, str] = field(default_factory=dict)  # date -> name, first name wins
    repeating: list[str] = field(default_factory=list)  # names of RRULE events not expanded


def read_holidays(content: bytes) -> Holidays:
    if len(content) > MAX_BYTES:
        raise Refused(f"The file is {len(content):,} bytes; a holiday calendar is at most {MAX_BYTES:,}.")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Refused("The file is not UTF-8 text; export it again as an iCalendar (.ics) file.") from None
    lines = _unfolded(text)
    if not lines or lines[0].upper() != "BEGIN:VCALENDAR":
        raise Refused("This is not an iCalendar file: it does not start with BEGIN:VCALENDAR.")
    found = Holidays()
    event: dict[str, str] | None = None
    for number, line in enumerate(lines, start=1):
        name, _, value = line.partition(":")
        key = name.split(";", 1)[0].upper()
        if key == "BEGIN" and value.upper() == "VEVENT":
            event = {}
        elif key == "END" and value.upper() == "VEVENT" and event is not None:
            _add(found, event, number)
            event = None
        elif event is not None and key in {"DTSTART", "DTEND", "SUMMARY", "RRULE"}:
            event[key] = value
    return found


def _add(found: Holidays, event: dict[str, str], number: int) -> None:
    summary = _unescaped(event.get("SUMMARY", "")).strip()[:100]
    if "DTSTART" not in event:
        raise Refused(f"Line {number}: an event ({summary or 'no name'}) has no DTSTART.")
    if "RRULE" in event:
        found.repeating.append(summary or event["DTSTART"])
        return
    first = _date(event["DTSTART"], number)
    last = _date(event["DTEND"], number) - timedelta(days=1) if "DTEND" in event else first
    last = max(first, last)  # a timed event ending the same day, or DTEND equal to DTSTART
    if (last - first).days >= MAX_DAYS:
        raise Refused(f"Line {number}: '{summary}' lasts {(last - first).days + 1} days; at most {MAX_DAYS}.")
    day = first
    while day <= last:
        found.dates.setdefault(day, summary)
        day += timedelta(days=1)


def _date(value: str, number: int) -> date:
    match = _DATE.match(value.strip())
    try:
        if match is None:
            raise ValueError
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise Refused(f"Line {number}: '{value[:40]}' is not a date (YYYYMMDD or YYYYMMDDTHHMMSS).") from None


def _unfolded(text: str) -> list[str]:
    lines: list[str] = []
    for raw in text.splitlines():
        if raw[:1] in {" ", "\t"} and lines:
            lines[-1] += raw[1:]
        elif raw.strip():
            lines.append(raw.strip())
    return lines


def _unescaped(value: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: " " if m[1] in "nN" else m[1], value)
