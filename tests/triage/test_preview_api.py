"""POST /api/v1/triage/preview: the contract, who may call it, and what it refuses."""

import json

import pytest
from django.test import Client

from inbox.models import Message
from socialcrm.models import ApiToken
from tests.factories import PASSWORD, make_user
from tests.helpers import add_channel, post_preview
from triage.models import TriageDecision

pytestmark = pytest.mark.django_db
KEYS = {
    "type",
    "sentiment",
    "sentiment_score",
    "language",
    "influence",
    "priority",
    "queue",
    "rule",
    "explanation",
    "model_version",
}


def test_each_item_gets_the_contracts_fields_in_order_and_nothing_is_stored(client, triage_token):
    items = [
        {"text": "@brand my phone exploded, I'm calling my lawyer", "author": {"followers": 250_000, "verified": True}},
        {"text": "How much is the unlimited plan?", "network": "x"},
        {"text": "Thank you so much, the engineer was lovely!"},
    ]

    response = post_preview(client, {"items": items}, triage_token)

    assert response.status_code == 200
    answers = response.json()["items"]
    assert len(answers) == 3 and all(set(answer) >= KEYS for answer in answers)
    assert [a["queue"] for a in answers] == ["pr", "sales", "marketing"]
    assert answers[0]["priority"] in ("high", "urgent") and answers[0]["influence"] > 0.6
    assert answers[1]["type"] == "lead" and answers[1]["rule"] == "Purchase intent"
    assert answers[2]["sentiment"] == "positive" and answers[2]["sentiment_score"] > 0
    assert all(a["sentiment"] in ("negative", "neutral", "positive") for a in answers)
    assert not TriageDecision.objects.exists() and not Message.objects.exists()
    assert ApiToken.objects.get().last_used_at is not None


def test_a_thousand_items_are_answered(client, triage_token):
    items = [{"text": f"Where is my order number {n}?"} for n in range(1000)]

    response = post_preview(client, {"items": items}, triage_token)

    assert response.status_code == 200 and len(response.json()["items"]) == 1000


@pytest.mark.parametrize(
    "text", ["", "🙂🙂", "https://t.co/x", "x" * 10_000, "Привет, 你好, hello, مرحبا", "<script>alert(1)</script>"]
)
def test_hard_texts_get_answers(client, triage_token, text):
    response = post_preview(client, {"items": [{"text": text}]}, triage_token)

    assert response.status_code == 200
    assert set(response.json()["items"][0]) >= KEYS


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"items": []}, "1 to 1,000 items"),
        ({"items": [{"text": "hi"}] * 1001}, "1 to 1,000 items"),
        ({"texts": ["hi"]}, "Send {"),
        ([{"text": "hi"}], "Send {"),
        ({"items": ["hi"]}, "'errors'"),
        ({"items": [{"text": 42}]}, "'errors'"),
        ({"items": [{"text": "hi", "author": {"followers": -1}}]}, "'errors'"),
        ({"items": [{"text": "hi", "author": {"followers": "lots"}}]}, "'errors'"),
        ({"items": [{"text": "hi", "author": {"verified": "yes"}}]}, "'errors'"),
        ({"items": [{"text": "hi", "network": "myspace"}]}, "'errors'"),
        ({"items": [{"text": "x" * 10_001}]}, "'errors'"),
        ({"items": [{"text": "x" * 10_000}] * 26}, "at most 250,000 a request"),
        ("{not json", "Malformed JSON"),
    ],
)
def test_bad_requests_get_a_clear_400(client, triage_token, body, message):
    response = post_preview(client, body, triage_token)

    assert response.status_code == 400
    assert message in json.dumps(response.json())


def test_errors_say_which_item_is_wrong(client, triage_token):
    response = post_preview(
        client, {"items": [{"text": "fine"}, {"text": "hi", "author": {"followers": -5}}]}, triage_token
    )

    assert response.json()["errors"] == {"1": {"author.followers": "Must be a whole number from 0 up."}}


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"text": "hi", "author": {"tier": 0}}, "author.tier"),
        ({"text": "hi", "author": {"tier": []}}, "author.tier"),
        ({"text": "hi", "network": False}, "network"),
        ({"text": "hi", "private": 0}, "private"),
        ({"text": "hi", "author": {"verified": "yes"}}, "author.verified"),
        ({"text": "hi", "author": []}, "author"),
    ],
)
def test_a_wrong_type_is_refused_even_when_it_is_falsy(client, triage_token, item, field):
    response = post_preview(client, {"items": [item]}, triage_token)

    assert response.status_code == 400
    assert list(response.json()["errors"]["0"]) == [field]


def test_null_is_as_if_the_field_were_left_out(client, triage_token):
    item = {"text": "hi", "network": None, "private": None, "author": {"tier": None, "followers": None}}

    assert post_preview(client, {"items": [item, {"text": "hi", "author": None}]}, triage_token).status_code == 200


def test_without_credentials_or_with_a_wrong_or_revoked_token_it_is_401(client, triage_token):
    assert post_preview(client, {"items": [{"text": "hi"}]}).status_code == 401
    assert post_preview(client, {"items": [{"text": "hi"}]}, "scrm_wrong").status_code == 401
    ApiToken.objects.update(is_active=False)
    assert post_preview(client, {"items": [{"text": "hi"}]}, triage_token).status_code == 401


def test_a_channel_token_is_not_a_triage_token(client):
    channel_token = add_channel("hook")["token"]

    assert post_preview(client, {"items": [{"text": "hi"}]}, channel_token).status_code == 401


def test_managers_may_preview_from_the_browser_but_agents_may_not(client):
    make_user("maria", role="manager")
    make_user("sam", role="agent", queues=("service",))

    client.login(username="sam", password=PASSWORD)
    assert post_preview(client, {"items": [{"text": "hi"}]}).status_code == 403

    client.login(username="maria", password=PASSWORD)
    assert post_preview(client, {"items": [{"text": "hi"}]}).status_code == 200


def test_a_session_call_without_the_csrf_token_is_refused():
    make_user("maria", role="manager")
    browser = Client(enforce_csrf_checks=True)
    browser.login(username="maria", password=PASSWORD)

    assert post_preview(browser, {"items": [{"text": "hi"}]}).status_code == 403
    browser.get("/inbox/")
    csrf = browser.cookies["csrftoken"].value
    assert post_preview(browser, {"items": [{"text": "hi"}]}, **{"X-CSRFToken": csrf}).status_code == 200


def test_the_token_is_stored_hashed_and_printed_once(triage_token):
    stored = ApiToken.objects.get()

    assert triage_token not in stored.token_hash and stored.scope == "triage" and stored.name == "harness"


def test_the_schema_describes_the_preview(client):
    schema = client.get("/api/v1/openapi.json").json()

    assert "/api/v1/triage/preview" in schema["paths"]
    assert set(schema["components"]["schemas"]["Decision"]["properties"]) >= KEYS


def test_each_caller_gets_a_limited_number_of_previews_a_minute(client, triage_token, one_minute):
    from triage.api import REQUESTS_PER_MINUTE

    for _ in range(REQUESTS_PER_MINUTE):
        assert post_preview(client, {"items": [{"text": "hi"}]}, triage_token).status_code == 200

    response = post_preview(client, {"items": [{"text": "hi"}]}, triage_token)

    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
