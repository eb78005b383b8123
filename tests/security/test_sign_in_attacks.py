"""Attacks on the way in, tried beyond issue 12's campaign: each held, and is kept that way here."""

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from tests.factories import make_conversation

pytestmark = pytest.mark.django_db

PASSWORD = "a long and right password"


@pytest.fixture
def agent(agent_in_service_queue):
    agent_in_service_queue.set_password(PASSWORD)
    agent_in_service_queue.save()
    return agent_in_service_queue


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "https:evil.example", "/\t/evil.example"]
)
def test_a_sign_in_link_cannot_send_the_agent_on_to_another_site(agent, target):
    response = Client().post(f"/accounts/login/?next={target}", {"login": agent.username, "password": PASSWORD})

    assert response.status_code == 302
    assert response.headers["Location"] == "/inbox/"


@pytest.mark.parametrize("back", ["https://evil.example/inbox/", "/inbox/\\evil.example", "/inbox/\r\nX-Injected: 1"])
def test_the_bulk_actions_back_link_stays_on_this_site_and_cannot_add_a_header(agent_client, back):
    conversation = make_conversation()

    response = agent_client.post("/inbox/bulk", {"action": "pending", "ids": [conversation.pk], "back": back})

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/inbox/")
    assert "X-Injected" not in response.headers
    assert "\n" not in response.headers["Location"]


def test_guessing_a_password_is_stopped_after_five_failures(agent):
    for _ in range(5):
        wrong = Client().post("/accounts/login/", {"login": agent.username, "password": "guess"})
        assert wrong.status_code == 200  # the form again, with its error

    refused = Client().post("/accounts/login/", {"login": agent.username, "password": PASSWORD})

    # Even the right password waits out the five minutes: a guesser cannot tell a hit from the lock.
    assert refused.status_code == 200
    assert "Too many failed login attempts" in refused.content.decode()
    assert "_auth_user_id" not in refused.wsgi_request.session


def test_a_forged_host_cannot_put_its_own_address_in_a_password_reset_mail(agent):
    response = Client().post("/accounts/password/reset/", {"email": agent.email}, headers={"Host": "evil.example"})

    assert response.status_code == 400
    assert mail.outbox == []


def test_nobody_can_sign_up_for_an_account_of_their_own():
    response = Client().post(
        "/accounts/signup/",
        {"email": "in@truder.example", "username": "intruder", "password1": PASSWORD, "password2": PASSWORD},
    )

    assert "Sign Up Closed" in response.content.decode()
    assert not get_user_model().objects.filter(username="intruder").exists()
