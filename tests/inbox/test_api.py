"""The ingest API contract: POST /api/v1/channels/<slug>/mentions and GET /api/v1/messages/<id>."""

import json

import pytest

from customers.models import Customer
from inbox.models import Channel, Conversation, Message
from socialcrm.models import ApiToken
from tests.factories import make_user
from tests.helpers import MENTION, add_channel, nothing_stored, post_mention


def test_one_mention_is_accepted(client, ingest_token):
    response = post_mention(client, MENTION, token=ingest_token)

    assert response.status_code == 202
    body = response.json()
    message = Message.objects.get()
    assert body == {
        "accepted": 1,
        "duplicates": 0,
        "messages": [
            {"external_id": "t1", "id": message.pk, "conversation_id": message.conversation_id, "duplicate": False}
        ],
    }
    assert message.raw_payload == MENTION  # kept for audit


def test_a_batch_is_accepted_and_a_replay_is_all_duplicates(client, ingest_token):
    batch = {"mentions": [{**MENTION, "external_id": f"t{n}"} for n in range(3)]}

    first = post_mention(client, batch, token=ingest_token).json()
    replay = post_mention(client, batch, token=ingest_token).json()

    assert (first["accepted"], first["duplicates"]) == (3, 0)
    assert (replay["accepted"], replay["duplicates"]) == (0, 3)
    assert [m["id"] for m in replay["messages"]] == [m["id"] for m in first["messages"]]
    assert Message.objects.count() == 3


def test_the_same_external_id_twice_in_a_batch_is_stored_once(client, ingest_token):
    body = post_mention(client, {"mentions": [MENTION, {**MENTION, "text": "again"}]}, token=ingest_token).json()

    assert (body["accepted"], body["duplicates"]) == (1, 1)
    assert Message.objects.get().text == MENTION["text"]


@pytest.mark.parametrize(
    ("mention", "field", "message"),
    [
        ({**MENTION, "text": "x" * 10_001}, "text", "At most 10,000 characters"),
        ({**MENTION, "text": ""}, "text", "required"),
        ({k: v for k, v in MENTION.items() if k != "text"}, "text", "required"),
        ({k: v for k, v in MENTION.items() if k != "external_id"}, "external_id", "required"),
        ({**MENTION, "external_id": 42}, "external_id", "string"),
        ({**MENTION, "text": "nul\x00byte"}, "text", "NUL"),
        ({**MENTION, "author": {"handle": "@x"}}, "author.external_id", "required"),
        ({**MENTION, "author": "u1"}, "author", "object"),
        ({**MENTION, "author": {"external_id": "u1", "followers": -5}}, "author.followers", "whole number"),
        ({**MENTION, "author": {"external_id": "u1", "followers": "many"}}, "author.followers", "whole number"),
        ({**MENTION, "author": {"external_id": "u1", "verified": "yes"}}, "author.verified", "true or false"),
        ({**MENTION, "author": {"external_id": "u1", "email": "not-an-email"}}, "author.email", "e-mail"),
        ({**MENTION, "posted_at": "yesterday"}, "posted_at", "ISO 8601"),
        ({**MENTION, "posted_at": "2999-01-01T00:00:00Z"}, "posted_at", "future"),
        ({**MENTION, "url": "javascript:alert(1)"}, "url", "http(s)"),
        ({**MENTION, "private": "no"}, "private", "true or false"),
        ({**MENTION, "private": 0}, "private", "true or false"),
        ({**MENTION, "author": {"external_id": "u1", "followers": 12.5}}, "author.followers", "whole number"),
        ({**MENTION, "author": {"external_id": "u1", "followers": True}}, "author.followers", "whole number"),
        ({**MENTION, "url": "https:///no-host"}, "url", "http(s)"),
        ({**MENTION, "url": "https://x.example/a b"}, "url", "http(s)"),
    ],
)
def test_an_invalid_mention_is_refused_with_the_field_and_nothing_is_stored(
    client, ingest_token, mention, field, message
):
    response = post_mention(client, {"mentions": [{**MENTION, "external_id": "ok"}, mention]}, token=ingest_token)

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert list(errors) == ["1"]  # keyed by the item's index; the valid one is not listed
    assert message in errors["1"][field]
    assert nothing_stored()


def test_optional_fields_sent_as_null_or_empty_are_as_if_left_out(client, ingest_token):
    nulls = {"url": None, "posted_at": "", "in_reply_to": None, "private": None}
    author = {"external_id": "u1", "handle": None, "name": None, "followers": None, "verified": None, "email": ""}

    response = post_mention(client, {**MENTION, **nulls, "author": {**author, "profile_url": None}}, token=ingest_token)

    assert response.status_code == 202
    message = Message.objects.get()
    assert message.url == "" and not message.is_private and message.in_reply_to_external_id == ""


def test_a_whole_number_written_as_a_float_and_an_intranet_url_are_taken(client, ingest_token):
    author = {"external_id": "u1", "followers": 1200.0, "profile_url": "https://intranet/people/u1"}

    assert (
        post_mention(
            client, {**MENTION, "author": author, "url": "https://forum.example.shop/t/1"}, token=ingest_token
        ).status_code
        == 202
    )
    assert Message.objects.get().author.followers == 1200


def test_a_lone_surrogate_is_refused(client, ingest_token):
    body = json.dumps(MENTION).replace("My bill", "My \\ud800 bill")  # valid JSON, invalid Unicode

    response = post_mention(client, body, token=ingest_token)

    assert response.status_code == 400
    assert "surrogate" in response.json()["errors"]["0"]["text"]
    assert nothing_stored()


@pytest.mark.parametrize("body", ['{"external_id": "t1", "text": ', "not json", b"\xff\xfe{}", "[1, 2]", '"text"'])
def test_malformed_json_or_the_wrong_shape_is_refused(client, ingest_token, body):
    response = post_mention(client, body, token=ingest_token)

    assert response.status_code == 400
    assert response.json()["error"]
    assert nothing_stored()


@pytest.mark.parametrize("count", [0, 1001])
def test_a_batch_holds_1_to_1000(client, ingest_token, count):
    response = post_mention(
        client, {"mentions": [{**MENTION, "external_id": str(n)} for n in range(count)]}, token=ingest_token
    )

    assert response.status_code == 400
    assert "1 to 1,000" in response.json()["error"]


def test_an_unknown_in_reply_to_is_kept_and_accepted(client, ingest_token):
    response = post_mention(client, {**MENTION, "in_reply_to": "never-seen"}, token=ingest_token)

    assert response.status_code == 202
    assert Message.objects.get().in_reply_to_external_id == "never-seen"


def test_html_and_script_are_stored_as_text(client, ingest_token):
    script = '<script>alert("x")</script><svg onload=alert(1)>'
    mention = {**MENTION, "text": script, "author": {"external_id": "u1", "name": script, "handle": script}}

    assert post_mention(client, mention, token=ingest_token).status_code == 202
    assert Message.objects.get().text == script


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic dXNlcjpwYXNz", "Bearer "])
def test_a_missing_or_wrong_token_is_401(client, ingest_token, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = client.post(
        "/api/v1/channels/hook/mentions", data=json.dumps(MENTION), content_type="application/json", headers=headers
    )

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert nothing_stored()


def test_another_channels_token_is_401(client, ingest_token):
    other = add_channel("other")["token"]
    assert post_mention(client, MENTION, token=other).status_code == 401


def test_an_unknown_channel_looks_like_a_wrong_token_so_slugs_cannot_be_probed(client, ingest_token):
    unknown = post_mention(client, MENTION, token=ingest_token, slug="nope")
    wrong = post_mention(client, MENTION, token="scrm_a_wrong", slug="hook")

    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()


def test_a_deactivated_channels_token_is_told_so_and_nothing_is_stored(client, ingest_token):
    Channel.objects.filter(slug="hook").update(is_active=False)

    response = post_mention(client, MENTION, token=ingest_token)

    assert response.status_code == 403
    assert "deactivated" in response.json()["error"]
    assert nothing_stored()


def test_a_body_that_is_not_json_is_415(client, ingest_token):
    response = post_mention(
        client, "external_id=t1&text=hi", token=ingest_token, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415


def test_a_body_over_5_mb_is_413(client, ingest_token):
    huge = {"mentions": [{**MENTION, "external_id": str(n), "text": "x" * 9_000} for n in range(600)]}

    response = post_mention(client, huge, token=ingest_token)

    assert response.status_code == 413
    assert nothing_stored()


def test_over_the_rate_limit_is_429_with_retry_after(client, ingest_token, one_minute):
    Channel.objects.filter(slug="hook").update(rate_limit_per_minute=3)
    post_mention(client, {"mentions": [{**MENTION, "external_id": str(n)} for n in range(3)]}, token=ingest_token)

    response = post_mention(client, {**MENTION, "external_id": "one-too-many"}, token=ingest_token)

    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert not Message.objects.filter(external_id="one-too-many").exists()


def test_rotating_the_token_stops_the_old_one(client, ingest_token):
    again = add_channel("hook")
    rotated = add_channel("hook", "--rotate")

    assert again["token"] is None  # idempotent: the existing token is unchanged
    assert post_mention(client, MENTION, token=ingest_token).status_code == 401
    assert post_mention(client, MENTION, token=rotated["token"]).status_code == 202
    assert Channel.objects.filter(slug="hook").count() == 1
    assert ApiToken.objects.get() == Channel.objects.get().api_token  # the old one is gone
    assert ingest_token not in ApiToken.objects.get().token_hash  # stored hashed


def test_a_channel_token_revoked_under_api_tokens_is_refused_and_its_use_is_recorded(client, ingest_token):
    assert post_mention(client, MENTION, token=ingest_token).status_code == 202
    used = ApiToken.objects.get(scope="ingest")
    assert used.last_used_at is not None

    ApiToken.objects.update(is_active=False)  # what unticking "active" in admin does

    assert post_mention(client, {**MENTION, "external_id": "after"}, token=ingest_token).status_code == 401
    assert not Message.objects.filter(external_id="after").exists()


def test_the_api_needs_no_csrf_token(ingest_token):
    from django.test import Client

    response = post_mention(Client(enforce_csrf_checks=True), MENTION, token=ingest_token)
    assert response.status_code == 202


class TestReadingAMessage:
    @pytest.fixture
    def message_id(self, client, ingest_token, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            return post_mention(client, MENTION, token=ingest_token).json()["messages"][0]["id"]

    def test_the_channel_token_reads_it(self, client, ingest_token, message_id):
        body = client.get(f"/api/v1/messages/{message_id}", headers={"Authorization": f"Bearer {ingest_token}"}).json()

        assert body["external_id"] == "t1" and body["text"] == MENTION["text"]
        assert body["conversation"]["status"] == "new"
        assert body["triage_state"] == "triaged"
        assert body["triage"]["queue"] == body["conversation"]["queue"]
        assert body["triage"]["explanation"]

    def test_another_channels_token_gets_404(self, client, message_id):
        other = add_channel("other")["token"]
        response = client.get(f"/api/v1/messages/{message_id}", headers={"Authorization": f"Bearer {other}"})
        assert response.status_code == 404

    def test_anonymous_gets_401_whether_or_not_the_message_exists(self, client, message_id):
        for url in (f"/api/v1/messages/{message_id}", "/api/v1/messages/999999"):
            response = client.get(url)
            assert response.status_code == 401
            assert response.headers["WWW-Authenticate"].startswith("Bearer")

    def test_a_manager_reads_it_and_an_agent_outside_its_queue_does_not(self, client, message_id):
        Conversation.objects.update(queue_id=None)
        client.force_login(make_user("maria", role="manager"))
        assert client.get(f"/api/v1/messages/{message_id}").status_code == 200

        client.force_login(make_user("sam", role="agent", queues=("service",)))
        assert client.get(f"/api/v1/messages/{message_id}").status_code == 404
        assert client.get("/api/v1/messages/999999").status_code == 404


def test_the_openapi_schema_describes_the_contract(client, db):
    schema = client.get("/api/v1/openapi.json").json()

    post_op = schema["paths"]["/api/v1/channels/{slug}/mentions"]["post"]
    assert set(post_op["responses"]) == {"202", "400", "401", "403", "404", "413", "415", "429"}
    assert schema["components"]["schemas"]["Mention"]["required"] == ["external_id", "text", "author"]


def test_a_nul_character_in_a_field_nobody_reads_is_dropped_from_the_kept_payload(client, ingest_token):
    response = post_mention(client, {**MENTION, "source": {"app": "crawler\x00v2"}}, token=ingest_token)

    assert response.status_code == 202
    assert Message.objects.get().raw_payload["source"] == {"app": "crawlerv2"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[" * 100_000, "nests deeper"),
        (json.dumps({**MENTION, "extra": json.loads("[" * 40 + "]" * 40)}), "nests deeper"),
        (json.dumps(MENTION).encode("utf-16"), "not valid UTF-8"),
        (b'{"external_id": "t1", "text": "\xed\xa0\x80", "author": {"external_id": "u1"}}', "not valid UTF-8"),
    ],
)
def test_deep_nesting_and_bodies_that_are_not_utf8_are_refused(client, ingest_token, body, message):
    response = post_mention(client, body, token=ingest_token)

    assert response.status_code == 400
    assert message in response.json()["error"]
    assert nothing_stored()


def test_a_long_author_name_is_stored_cut_to_fit(client, ingest_token):
    response = post_mention(client, {**MENTION, "author": {"external_id": "u1", "name": "N" * 255}}, token=ingest_token)

    assert response.status_code == 202
    assert len(Customer.objects.get().name) == 200


def test_a_deactivated_channels_token_reads_nothing(client, ingest_token, django_capture_on_commit_callbacks):
    message_id = post_mention(client, MENTION, token=ingest_token).json()["messages"][0]["id"]
    Channel.objects.filter(slug="hook").update(is_active=False)

    response = client.get(f"/api/v1/messages/{message_id}", headers={"Authorization": f"Bearer {ingest_token}"})

    assert response.status_code == 404
