"""A service's Refused is a 400 with its reason at every door, in one place (socialcrm.errors)."""

import json

import pytest
from django.urls import reverse

from inbox.models import InvalidTransition
from socialcrm.errors import BadRequestMiddleware, Refused
from tests.factories import make_conversation

pytestmark = pytest.mark.django_db


def test_an_impossible_status_change_is_refused_with_its_reason_for_htmx_and_the_page(agent_client):
    conversation = make_conversation("service", status="new")
    url = reverse("inbox:set-status", args=[conversation.pk])

    htmx = agent_client.post(url, {"status": "snoozed"}, HTTP_HX_REQUEST="true")  # no time given
    assert htmx.status_code == 400 and htmx["Content-Type"].startswith("text/plain")

    bad_cursor = agent_client.get(reverse("inbox:home"), {"queue": "service", "after": "<b>x</b>"})
    assert bad_cursor.status_code == 400
    assert b"That page link is broken" in bad_cursor.content and b"<b>x" not in bad_cursor.content


def test_refused_is_the_one_domain_error_and_invalid_transition_is_one():
    assert issubclass(InvalidTransition, Refused)
    assert not issubclass(Refused, ValueError)  # a programming error is never answered as the user's fault


def test_a_refusal_at_the_api_is_json_with_its_reason(rf):
    request = rf.post("/api/v1/triage/preview")
    response = BadRequestMiddleware(lambda r: None).process_exception(request, Refused("Too many items: 1,001"))
    assert response.status_code == 400 and json.loads(response.content) == {"error": "Too many items: 1,001"}
