"""Business calendars: admins edit opening hours and holidays; a queue's SLA clock keeps them."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from inbox.models import Conversation
from inbox.services.ingest import ingest
from tests.factories import make_channel
from tests.helpers import mention
from triage.models import BusinessCalendar, Holiday, OpeningSlot, Queue

LONDON = ZoneInfo("Europe/London")
ADD_URL = "/admin/triage/businesscalendar/add/"


def calendar_form(*slots, holidays=(), **fields):
    """The admin's add form with its two inlines, as a browser posts it."""
    form = {"name": "London office", "timezone": "Europe/London", **fields}
    for prefix, rows in (("slots", slots), ("holidays", holidays)):
        form |= {f"{prefix}-TOTAL_FORMS": len(rows), f"{prefix}-INITIAL_FORMS": 0}
        for n, row in enumerate(rows):
            form |= {f"{prefix}-{n}-{key}": value for key, value in row.items()}
    return form


def slot(weekday, opens, closes):
    return {"weekday": weekday, "opens": opens, "closes": closes}


WEEKDAYS_8_TO_6 = [slot(day, "08:00", "18:00") for day in range(5)]


@pytest.fixture
def office(db):
    calendar = BusinessCalendar.objects.create(name="London office", timezone="Europe/London")
    OpeningSlot.objects.bulk_create(
        OpeningSlot(calendar=calendar, weekday=d, opens=time(8), closes=time(18)) for d in range(5)
    )
    return calendar


def test_every_queue_starts_on_the_24_7_calendar(db):
    around_the_clock = BusinessCalendar.objects.get(name="24/7")
    assert around_the_clock.slots.count() == 7
    assert set(Queue.objects.values_list("calendar__name", flat=True)) == {"24/7"}


def test_an_admin_sets_up_office_hours_with_a_split_shift_and_a_night(admin_client):
    slots = [slot(0, "08:00", "12:00"), slot(0, "13:00", "17:00"), slot(4, "22:00", "06:00")]
    response = admin_client.post(ADD_URL, calendar_form(*slots, holidays=[{"date": "2026-12-25", "name": "Christmas"}]))

    assert response.status_code == 302
    calendar = BusinessCalendar.objects.get(name="London office")
    assert [str(s) for s in calendar.slots.all()] == ["Mon 08:00-12:00", "Mon 13:00-17:00", "Fri 22:00-06:00"]
    assert list(calendar.holidays.values_list("date", flat=True)) == [date(2026, 12, 25)]


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        (
            calendar_form(slot(0, "08:00", "12:00"), slot(0, "11:00", "17:00")),
            "Mon 08:00-12:00 overlaps Mon 11:00-17:00",
        ),
        (
            calendar_form(slot(6, "22:00", "04:00"), slot(0, "03:00", "09:00")),
            "Sun 22:00-04:00 overlaps Mon 03:00-09:00",
        ),
        (calendar_form(), "A calendar needs at least one opening slot"),
        (calendar_form(*WEEKDAYS_8_TO_6, timezone="Europe/Londres"), "Unknown timezone &#x27;Europe/Londres&#x27;"),
    ],
    ids=["overlap", "overlap-past-midnight", "no-slots", "unknown-timezone"],
)
def test_a_calendar_that_cannot_work_is_refused_with_the_reason(admin_client, form, reason):
    response = admin_client.post(ADD_URL, form)

    assert response.status_code == 200
    assert reason in response.content.decode()
    assert not BusinessCalendar.objects.filter(name="London office").exists()


ICS = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
BEGIN:VEVENT\r
DTSTART;VALUE=DATE:20261225\r
DTEND;VALUE=DATE:20261227\r
SUMMARY:Christmas Day and\r
  Boxing Day\r
END:VEVENT\r
BEGIN:VEVENT\r
DTSTART;VALUE=DATE:20270101\r
SUMMARY:New Year\\, 2027\r
END:VEVENT\r
BEGIN:VEVENT\r
DTSTART;VALUE=DATE:20260101\r
RRULE:FREQ=YEARLY\r
SUMMARY:Every New Year\r
END:VEVENT\r
END:VCALENDAR\r
"""


def change_form(calendar, **fields):
    slots = [
        {
            "id": s.pk,
            "calendar": calendar.pk,
            "weekday": s.weekday,
            "opens": f"{s.opens:%H:%M}",
            "closes": f"{s.closes:%H:%M}",
        }
        for s in calendar.slots.all()
    ]
    form = calendar_form(*slots, **({"name": calendar.name, "timezone": calendar.timezone} | fields))
    return form | {"slots-INITIAL_FORMS": len(slots)}


def test_holidays_are_imported_from_an_icalendar_file_and_repeating_ones_named(admin_client, office):
    Holiday.objects.create(calendar=office, date=date(2026, 12, 25), name="Xmas (ours)")
    upload = SimpleUploadedFile("uk.ics", ICS, content_type="text/calendar")

    response = admin_client.post(
        f"/admin/triage/businesscalendar/{office.pk}/change/", change_form(office, import_holidays=upload), follow=True
    )

    assert dict(office.holidays.values_list("date", "name")) == {
        date(2026, 12, 25): "Xmas (ours)",  # already listed: kept as the admin wrote it
        date(2026, 12, 26): "Christmas Day and Boxing Day",
        date(2027, 1, 1): "New Year, 2027",
    }
    page = response.content.decode()
    assert "Imported 2 holidays (1 were already listed)." in page
    assert "Skipped 1 repeating events" in page and "Every New Year" in page


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"BEGIN:VEVENT\r\nEND:VEVENT\r\n", "does not start with BEGIN:VCALENDAR"),
        (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:2026-12-25\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", "is not a date"),
        (b"\xff\xfe\x00B", "not UTF-8"),
        (b"BEGIN:VCALENDAR\r\n" + b"X" * 1_000_001, "a holiday calendar is at most 1,000,000"),
    ],
    ids=["not-icalendar", "bad-date", "not-utf8", "too-big"],
)
def test_a_file_that_is_not_a_holiday_calendar_is_refused_and_nothing_changes(admin_client, office, content, reason):
    upload = SimpleUploadedFile("bad.ics", content, content_type="text/calendar")

    response = admin_client.post(
        f"/admin/triage/businesscalendar/{office.pk}/change/",
        change_form(office, import_holidays=upload, name="Renamed"),
    )

    assert response.status_code == 200
    assert reason in response.content.decode()
    office.refresh_from_db()
    assert office.name == "London office" and not office.holidays.exists()


@pytest.fixture
def service_in_office_hours(office):
    service = Queue.objects.get(slug="service")
    service.calendar = office
    service.save()
    channel = make_channel()
    channel.default_queue = service
    channel.save()
    return channel


def ingest_at(monkeypatch, channel, moment, external_id="t1"):
    monkeypatch.setattr(timezone, "now", lambda: moment)
    ingest(channel=channel, mentions=[mention(external_id, author=external_id)])  # each its own customer
    return Conversation.objects.get(messages__external_id=external_id)


def test_a_mention_on_friday_evening_is_due_in_monday_morning_business_time(monkeypatch, service_in_office_hours):
    friday_evening = datetime(2026, 12, 4, 19, 30, tzinfo=LONDON)
    first_response = Queue.objects.get(slug="service").sla_policy.first_response_minutes

    conversation = ingest_at(monkeypatch, service_in_office_hours, friday_evening)

    monday_8am = datetime(2026, 12, 7, 8, 0, tzinfo=LONDON)
    assert conversation.first_response_due_at == monday_8am + timedelta(minutes=first_response)


def test_a_holiday_added_later_moves_the_next_due_time(monkeypatch, service_in_office_hours, office):
    friday_evening = datetime(2026, 12, 4, 19, 30, tzinfo=LONDON)
    ingest_at(monkeypatch, service_in_office_hours, friday_evening, "before")

    Holiday.objects.create(calendar=office, date=date(2026, 12, 7), name="Staff day")
    conversation = ingest_at(monkeypatch, service_in_office_hours, friday_evening, "after")

    assert conversation.first_response_due_at.astimezone(LONDON).date() == date(2026, 12, 8)
