"""Input that crashed a door (a 500) gets a clean answer: a 400 saying why, or the delivery kept, minus the bad part."""

import json

import pytest
from django.test import Client

from tests.helpers import MENTION, nothing_stored, post_mention, post_preview
from tests.inbox.connectors import meta_hooks, x_hooks

pytestmark = pytest.mark.django_db

HUGE_INTEGER = "9" * 5000  # Python refuses to turn more than 4,300 digits into an int


def nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth):
        value = {"deeper": value}
    return value


@pytest.mark.parametrize(
    "path",
    ["/customers/?q=%00", "/inbox/?label=%00", "/inbox/?queue=%00", "/admin/customers/customer/?q=%00"],
)
def test_a_nul_byte_in_a_query_is_a_400_not_a_crash(client, manager, path):
    manager.is_staff = manager.is_superuser = True
    manager.save(update_fields=["is_staff", "is_superuser"])
    client.force_login(manager)

    response = client.get(path)

    assert response.status_code == 400
    assert "NUL" in response.content.decode()


def test_a_nul_byte_in_a_form_field_is_a_400_and_changes_nothing(agent_client):
    from tests.factories import make_conversation

    conversation = make_conversation("service")
    response = agent_client.post(f"/inbox/conversations/{conversation.pk}/notes", {"text": "hi\x00there"})

    assert response.status_code == 400
    assert "NUL" in response.content.decode()
    assert not conversation.notes.exists()


def test_an_integer_of_5000_digits_to_the_ingest_api_is_a_400(client, ingest_token):
    body = json.dumps(MENTION)[:-1] + f', "extra": {HUGE_INTEGER}}}'

    response = post_mention(client, body, token=ingest_token)

    assert response.status_code == 400
    assert "digits" in response.json()["error"]
    assert nothing_stored()


def test_an_integer_of_5000_digits_to_the_preview_api_is_a_400(client, triage_token):
    body = f'{{"items": [{{"text": "hello", "author": {{"followers": {HUGE_INTEGER}}}}}]}}'

    response = post_preview(client, body, token=triage_token)

    assert response.status_code == 400
    assert "digits" in response.json()["error"]


def nested_lists(depth: int) -> str:
    return "[" * depth + "]" * depth


META_SHAPES = {
    "a comment carrying 900 levels": lambda: _meta_comment_with(nested(900)),
    "900 levels of arrays": lambda: nested_lists(900),
    "an entry 900 levels deep": lambda: json.dumps({"object": "page", "entry": [nested(900)]}),
    "changes 900 levels deep": lambda: json.dumps({"object": "page", "entry": [{"id": "1", "changes": nested(900)}]}),
}


def _meta_comment_with(extra) -> str:
    delivery = meta_hooks.payload("page_comments")
    delivery["entry"][0]["changes"][0]["value"]["extra"] = extra
    return json.dumps(delivery)


@pytest.mark.parametrize("shape", META_SHAPES)
def test_a_signed_meta_delivery_nested_900_deep_is_answered_without_a_crash(db, shape):
    page = meta_hooks.meta_channel("kestrel-facebook", "facebook")

    response = meta_hooks.deliver(Client(raise_request_exception=False), page, META_SHAPES[shape]().encode())

    assert response.status_code in {200, 400}, response.content


@pytest.mark.parametrize("shape", ["tweet", "arrays", "events"])
def test_a_signed_x_delivery_nested_900_deep_is_answered_without_a_crash(db, shape):
    account = x_hooks.x_channel()
    delivery = x_hooks.payload("tweet_create_events")
    delivery["tweet_create_events"][0]["extra"] = nested(900)
    body = {
        "tweet": json.dumps(delivery),
        "arrays": nested_lists(900),
        "events": json.dumps({"for_user_id": "1", "tweet_create_events": [nested(900)]}),
    }[shape]

    response = x_hooks.deliver(Client(raise_request_exception=False), account, body.encode())

    assert response.status_code in {200, 400}, response.content


def test_an_unreadable_json_body_to_every_json_door_is_a_400_not_a_500(ingest_token, triage_token):
    client = Client(raise_request_exception=False)
    for path, headers in [
        ("/api/v1/channels/hook/mentions", {"Authorization": f"Bearer {ingest_token}"}),
        ("/api/v1/triage/preview", {"Authorization": f"Bearer {triage_token}"}),
    ]:
        for body in ["[" * 100_000, f"{HUGE_INTEGER}", '{"a": 1e999999}', '"\\ud800"', "\x00"]:
            response = client.post(path, body, content_type="application/json", headers=headers)
            assert response.status_code in {400, 413}, f"{path} answered {response.status_code} to {body[:20]!r}"
