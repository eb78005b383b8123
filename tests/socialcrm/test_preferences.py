"""Each person's preferences: their name, the time zone every date is shown in, where focus goes
after Resolve or Snooze, and the signature under their e-mail replies."""

from datetime import UTC, datetime

import pytest

from inbox.models import Channel, Message
from inbox.services.replies import reply
from socialcrm.models import Preferences
from tests.factories import make_channel, make_conversation

pytestmark = pytest.mark.django_db

POSTED = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def a_conversation_posted_at_noon_utc():
    conversation = make_conversation("service", text="Where is my parcel?")
    Message.objects.filter(conversation=conversation).update(posted_at=POSTED)
    return conversation


def test_dates_are_shown_in_the_time_zone_the_person_chose(agent_client, agent_in_service_queue):
    conversation = a_conversation_posted_at_noon_utc()
    page = f"/inbox/conversations/{conversation.pk}/"
    assert "5 Jan 2026, 12:00" in agent_client.get(page).text  # the brand's zone (UTC here) to begin with

    saved = agent_client.post(
        "/settings/preferences",
        {"first_name": "Sam", "last_name": "Okafor", "time_zone": "Asia/Tokyo", "after_done": "list", "signature": ""},
        follow=True,
    )

    assert "Your preferences are saved." in saved.text
    assert "5 Jan 2026, 21:00" in agent_client.get(page).text  # at once, without signing in again
    agent_in_service_queue.refresh_from_db()
    assert agent_in_service_queue.get_full_name() == "Sam Okafor"
    assert 'data-after-done="list"' in agent_client.get("/inbox/").text


def test_a_new_sign_in_brings_the_preferences_with_it(client, agent_in_service_queue):
    Preferences.objects.create(user=agent_in_service_queue, time_zone="America/New_York")
    conversation = a_conversation_posted_at_noon_utc()

    client.force_login(agent_in_service_queue)

    assert "5 Jan 2026, 07:00" in client.get(f"/inbox/conversations/{conversation.pk}/").text


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"time_zone": "Mars/Olympus_Mons"}, "Select a valid choice."),
        ({"after_done": "explode"}, "Select a valid choice."),
        ({"signature": "Sam\x00"}, "Null characters are not allowed."),
        ({"first_name": "x" * 151}, "at most 150 characters"),
        ({"signature": "x" * 1001}, "at most 1000 characters"),
    ],
)
def test_a_bad_choice_is_refused_and_nothing_is_changed(agent_client, agent_in_service_queue, change, error):
    Preferences.objects.create(user=agent_in_service_queue, time_zone="Europe/Berlin", signature="Sam")
    form = {"first_name": "", "last_name": "", "time_zone": "Europe/Lisbon", "after_done": "next", "signature": ""}

    response = agent_client.post("/settings/preferences", {**form, **change})

    assert response.status_code == 400 and error in response.text
    kept = Preferences.objects.get(user=agent_in_service_queue)
    assert (kept.time_zone, kept.signature) == ("Europe/Berlin", "Sam")


def test_the_signature_goes_under_e_mail_replies_only(agent_in_service_queue):
    Preferences.objects.create(user=agent_in_service_queue, signature="Sam\nCustomer care")
    email = make_conversation("service", channel=make_channel("mail", network="email", kind=Channel.Kind.EMAIL))
    tweet = make_conversation("service", channel=make_channel("x-main"))

    by_email = reply(conversation=email, text="Your parcel is on its way.", private=False, by=agent_in_service_queue)
    on_x = reply(conversation=tweet, text="Your parcel is on its way.", private=False, by=agent_in_service_queue)

    assert by_email.text == "Your parcel is on its way.\n\n-- \nSam\nCustomer care"
    assert on_x.text == "Your parcel is on its way."
