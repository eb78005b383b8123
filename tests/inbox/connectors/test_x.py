"""X Account Activity webhooks: the CRC check, signed deliveries, and what becomes a message."""

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest
from django.test import Client

from customers.models import Network
from inbox.connectors.x import mentions_from_activity
from inbox.models import Channel, Message
from tests.factories import make_channel, with_secrets
from tests.helpers import nothing_stored
from tests.inbox.connectors.x_hooks import CONSUMER_SECRET, deliver, fixture, payload, sign, x_channel

DANA_TWEET = "2123698137330655355"


@pytest.fixture
def x_account(db):
    return x_channel()


class TestCrcCheck:
    def test_the_response_token_is_the_hmac_of_the_crc_token(self, client, x_account):
        response = client.get("/webhooks/x/kestrel-x", {"crc_token": "Mzk3NzI5MjYtODU4Mi00YjRiLWJkZmUtZTAyNTc1"})

        digest = hmac.new(CONSUMER_SECRET.encode(), b"Mzk3NzI5MjYtODU4Mi00YjRiLWJkZmUtZTAyNTc1", "sha256").digest()
        assert response.status_code == 200
        assert response.json() == {"response_token": "sha256=" + base64.b64encode(digest).decode()}

    def test_a_missing_crc_token_is_400(self, client, x_account):
        response = client.get("/webhooks/x/kestrel-x")

        assert response.status_code == 400
        assert "crc_token" in response.json()["error"]

    def test_the_crc_check_cannot_be_used_to_sign_a_forged_delivery(self, client, x_account):
        forged = json.dumps({"for_user_id": "1", "tweet_create_events": []})

        answer = client.get("/webhooks/x/kestrel-x", {"crc_token": forged})

        assert answer.status_code == 400
        assert "response_token" not in answer.json()

    def test_a_channel_without_a_consumer_secret_is_403(self, client, x_account):
        with_secrets(x_account)

        response = client.get("/webhooks/x/kestrel-x", {"crc_token": "abc"})

        assert response.status_code == 403
        assert "consumer_secret" in response.json()["error"]


class TestTweets:
    def test_mentions_are_public_messages_and_our_own_tweets_are_skipped(self, client, x_account):
        response = deliver(client, x_account, fixture("tweet_create_events"))

        assert response.status_code == 200
        assert response.json() == {"accepted": 2, "duplicates": 0}
        dana = Message.objects.select_related("author", "conversation").get(external_id=DANA_TWEET)
        assert dana.text.endswith("Can someone actually look at the masts between J11 and J12?")  # the full text
        assert (dana.author.handle, dana.author.display_name) == ("@dana_whitfield", "Dana Whitfield")
        assert (dana.author.followers, dana.author.verified) == (1843, False)
        assert dana.author.profile_url == "https://x.com/dana_whitfield"
        assert dana.url == f"https://x.com/dana_whitfield/status/{DANA_TWEET}"
        assert dana.posted_at == datetime(2026, 11, 20, 8, 41, 7, tzinfo=UTC)
        assert not dana.is_private and not dana.conversation.is_private
        assert dana.raw_payload == payload("tweet_create_events")["tweet_create_events"][0]
        influencer = Message.objects.select_related("author").get(external_id="2123703522816991355")
        assert (influencer.author.handle, influencer.author.followers) == ("@mobilewatch_uk", 184302)
        assert influencer.author.verified is True
        assert not Message.objects.filter(author__external_id="3178245561").exists()

    def test_escaped_html_comes_back_as_the_text_the_author_typed(self, client, x_account):
        deliver(client, x_account, fixture("tweet_create_events"))

        assert Message.objects.get(external_id="2123703522816991355").text == (
            "Tried @KestrelMobile's new web chat: typing <script>alert(1)</script> into it & the agent view echoed "
            "it straight back 😬"
        )

    def test_a_reply_joins_the_conversation_of_the_tweet_it_answers(self, client, x_account):
        deliver(client, x_account, fixture("tweet_create_events"))

        response = deliver(client, x_account, fixture("tweet_reply"))

        assert response.json() == {"accepted": 1, "duplicates": 0}
        reply = Message.objects.select_related("author").get(external_id="2123710699271135355")
        assert reply.in_reply_to_external_id == DANA_TWEET
        assert reply.conversation_id == Message.objects.get(external_id=DANA_TWEET).conversation_id
        assert reply.author.handle == "@rob_mensah"

    def test_a_replayed_delivery_is_stored_once(self, client, x_account):
        first = deliver(client, x_account, fixture("tweet_create_events")).json()
        replay = deliver(client, x_account, fixture("tweet_create_events")).json()

        assert (first, replay) == ({"accepted": 2, "duplicates": 0}, {"accepted": 0, "duplicates": 2})
        assert Message.objects.count() == 2


class TestDirectMessages:
    def test_messages_are_private_with_their_author_from_users_and_ours_skipped(self, client, x_account):
        response = deliver(client, x_account, fixture("direct_message_events"))

        assert response.json() == {"accepted": 1, "duplicates": 0}
        message = Message.objects.select_related("author", "conversation").get()
        assert message.external_id == "2124142112797663355"
        assert message.text.startswith("Hi, postcode is RG7 4SA.")
        assert message.is_private and message.conversation.is_private
        assert (message.author.external_id, message.author.handle) == ("1029384756102938475", "@dana_whitfield")
        assert message.author.followers == 1843
        assert message.posted_at == datetime(2026, 11, 21, 14, 5, 19, tzinfo=UTC)
        assert message.raw_payload == payload("direct_message_events")["direct_message_events"][0]

    def test_the_dm_author_is_the_customer_who_tweeted(self, client, x_account):
        deliver(client, x_account, fixture("tweet_create_events"))
        deliver(client, x_account, fixture("direct_message_events"))

        tweet, dm = Message.objects.get(external_id=DANA_TWEET), Message.objects.get(external_id="2124142112797663355")
        assert tweet.author_id == dm.author_id


class TestOtherEvents:
    @pytest.mark.parametrize("name", ["favorite_events", "follow_events"])
    def test_are_accepted_and_ignored(self, client, x_account, name):
        response = deliver(client, x_account, fixture(name))

        assert response.status_code == 200
        assert response.json() == {"accepted": 0, "duplicates": 0}
        assert nothing_stored()


class TestAuthenticity:
    def test_a_tampered_body_with_the_original_signature_is_403_and_stores_nothing(self, client, x_account):
        original = fixture("tweet_create_events")
        tampered = original.replace(b'"followers_count": 1843', b'"followers_count": 9999999')
        assert tampered != original

        response = deliver(client, x_account, tampered, signature=sign(original))

        assert response.status_code == 403
        assert nothing_stored()

    @pytest.mark.parametrize("signature", ["", "sha256=", sign(b"{}"), sign(b"{}", "other-secret")])
    def test_a_missing_or_wrong_signature_is_403(self, client, x_account, signature):
        response = deliver(client, x_account, fixture("tweet_create_events"), signature=signature)

        assert response.status_code == 403
        assert nothing_stored()

    def test_the_hex_signature_meta_would_send_is_403(self, client, x_account):
        body = fixture("tweet_create_events")
        hex_signature = "sha256=" + hmac.new(CONSUMER_SECRET.encode(), body, hashlib.sha256).hexdigest()

        assert deliver(client, x_account, body, signature=hex_signature).status_code == 403

    def test_a_channel_without_a_consumer_secret_refuses_every_delivery(self, client, x_account):
        with_secrets(x_account, consumer_key="abc")

        response = deliver(client, x_account, fixture("tweet_create_events"), signature=sign(b"", ""))

        assert response.status_code == 403
        assert nothing_stored()

    def test_signed_malformed_json_is_400(self, client, x_account):
        assert deliver(client, x_account, b"tweet_create_events").status_code == 400

    def test_webhooks_need_no_csrf_token_nor_login(self, x_account):
        assert deliver(Client(enforce_csrf_checks=True), x_account, fixture("tweet_reply")).status_code == 200


class TestChannels:
    @pytest.mark.parametrize("method", ["put", "delete"])
    def test_only_get_and_post(self, client, x_account, method):
        assert getattr(client, method)("/webhooks/x/kestrel-x").status_code == 405

    def test_an_unknown_or_inactive_channel_is_404(self, client, x_account):
        assert client.get("/webhooks/x/nobody", {"crc_token": "abc"}).status_code == 404
        x_account.is_active = False
        x_account.save()
        response = deliver(client, x_account, fixture("tweet_reply"))
        assert response.status_code == 404
        assert "error" in response.json()

    def test_a_facebook_channel_is_404(self, client, db):
        page = make_channel("kestrel-facebook", network=Network.FACEBOOK, kind=Channel.Kind.FACEBOOK)
        with_secrets(page, consumer_secret=CONSUMER_SECRET)

        assert deliver(client, page, fixture("tweet_reply")).status_code == 404


class TestParsing:
    """The parser on its own: what a delivery becomes, without a request."""

    def test_tweets_and_messages_in_one_delivery(self):
        delivery = {**payload("tweet_reply"), **payload("direct_message_events")}

        mentions = mentions_from_activity(delivery)

        assert [(m.external_id, m.private, m.author.handle) for m in mentions] == [
            ("2123710699271135355", False, "@rob_mensah"),
            ("2124142112797663355", True, "@dana_whitfield"),
        ]

    def test_an_untruncated_tweet_uses_its_text_and_an_odd_screen_name_gets_the_generic_url(self):
        delivery = payload("tweet_reply")
        delivery["tweet_create_events"][0]["user"]["screen_name"] = "rob mensah!"

        (mention,) = mentions_from_activity(delivery)

        assert mention.text == "@dana_whitfield @KestrelMobile same here in Theale, zero bars since Tuesday"
        assert mention.url == "https://x.com/i/status/2123710699271135355"
        assert mention.author.profile_url == ""

    def test_over_long_text_is_cut_and_nul_bytes_dropped(self):
        delivery = payload("direct_message_events")
        delivery["direct_message_events"][0]["message_create"]["message_data"]["text"] = "\x00" + "y" * 12_000

        (mention,) = mentions_from_activity(delivery)

        assert mention.text == "y" * 10_000

    def test_events_without_ids_are_skipped_and_logged(self, caplog):
        delivery = payload("tweet_create_events")
        del delivery["tweet_create_events"][0]["id_str"], delivery["tweet_create_events"][0]["id"]
        delivery["tweet_create_events"][1]["user"] = None

        assert mentions_from_activity(delivery) == []
        assert "no usable id_str" in caplog.text
        assert "no usable user.id_str" in caplog.text

    @pytest.mark.parametrize("junk", [None, [], "x", {"tweet_create_events": {}}, {"direct_message_events": [1]}])
    def test_a_delivery_of_the_wrong_shape_yields_nothing(self, junk):
        assert mentions_from_activity(junk) == []


def test_a_delivery_for_another_account_on_the_same_app_is_ignored(client, x_account):
    x_account.config = {"user_id": "999999"}
    x_account.save()

    response = deliver(client, x_account, fixture("tweet_create_events"))

    assert response.status_code == 200
    assert response.json()["accepted"] == 0
    assert nothing_stored()
