"""Facebook Pages and Instagram webhooks: Meta's handshake, signed deliveries, and what becomes a message."""

import json
from datetime import UTC, datetime

import pytest
from django.test import Client

from customers.models import Identity, Network
from inbox.connectors.meta import mentions_from_delivery
from inbox.models import Channel, Message
from tests.factories import make_channel, with_secrets
from tests.helpers import nothing_stored
from tests.inbox.connectors.meta_hooks import APP_SECRET, VERIFY_TOKEN, deliver, fixture, meta_channel, payload, sign

POST_ID = "108234567890123_122160012345678901"
TOMASZ_COMMENT = "122160012345678901_1043218765432109"


@pytest.fixture
def facebook_page(db):
    return meta_channel("kestrel-facebook", Channel.Kind.FACEBOOK)


@pytest.fixture
def instagram_account(db):
    return meta_channel("kestrel-instagram", Channel.Kind.INSTAGRAM)


class TestHandshake:
    def test_the_challenge_is_echoed_as_plain_text(self, client, facebook_page):
        response = client.get(
            "/webhooks/meta/kestrel-facebook",
            {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"},
        )

        assert response.status_code == 200
        assert response.content == b"1158201444"
        assert response["Content-Type"].startswith("text/plain")

    @pytest.mark.parametrize(
        "query",
        [
            {"hub.mode": "subscribe", "hub.verify_token": "guessed", "hub.challenge": "1158201444"},
            {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"},
            {"hub.mode": "subscribe", "hub.challenge": "1158201444"},
            {"hub.mode": "subscribe", "hub.verify_token": "Vérifié", "hub.challenge": "1158201444"},
            {},
        ],
    )
    def test_a_wrong_handshake_is_403(self, client, facebook_page, query):
        response = client.get("/webhooks/meta/kestrel-facebook", query)

        assert response.status_code == 403
        assert "error" in response.json()

    def test_a_channel_without_a_verify_token_refuses_every_handshake(self, client, facebook_page):
        with_secrets(facebook_page, app_secret=APP_SECRET)

        response = client.get(
            "/webhooks/meta/kestrel-facebook", {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}
        )

        assert response.status_code == 403


class TestFacebookPage:
    def test_visitor_posts_are_stored_as_public_messages(self, client, facebook_page):
        response = deliver(client, facebook_page, fixture("page_posts"))

        assert response.status_code == 200
        assert response.json() == {"accepted": 2, "duplicates": 0}
        dana = Message.objects.select_related("author", "conversation").get(external_id=POST_ID)
        assert dana.text.startswith("Third dropped call today on the M4")
        assert "£45" in dana.text
        assert (dana.author.external_id, dana.author.display_name) == ("7712345678901234", "Dana Whitfield")
        assert dana.author.network == Network.FACEBOOK
        assert not dana.is_private and not dana.conversation.is_private
        assert dana.url.startswith("https://www.facebook.com/permalink.php?story_fbid=pfbid02Xk7")
        assert dana.posted_at == datetime(2026, 11, 20, 8, 41, 7, tzinfo=UTC)
        assert dana.raw_payload == payload("page_posts")["entry"][0]["changes"][0]
        assert Message.objects.filter(external_id="108234567890123_122160034567890123").exists()  # item "post"

    def test_comments_and_replies_join_the_post_s_conversation(self, client, facebook_page):
        deliver(client, facebook_page, fixture("page_posts"))

        response = deliver(client, facebook_page, fixture("page_comments"))

        assert response.json() == {"accepted": 2, "duplicates": 0}  # the page's own reply is not a mention
        post = Message.objects.get(external_id=POST_ID)
        tomasz = Message.objects.get(external_id=TOMASZ_COMMENT)
        dana_reply = Message.objects.get(external_id="122160012345678901_1187654321098765")
        assert tomasz.in_reply_to_external_id == POST_ID
        assert dana_reply.in_reply_to_external_id == TOMASZ_COMMENT
        assert tomasz.conversation_id == dana_reply.conversation_id == post.conversation_id
        assert not Message.objects.filter(author__external_id="108234567890123").exists()

    def test_html_and_script_are_kept_as_text(self, client, facebook_page):
        deliver(client, facebook_page, fixture("page_comments"))

        reply = Message.objects.get(external_id="122160012345678901_1187654321098765")
        assert reply.text == (
            'Exactly! Their status page literally says <b>"All systems operational"</b> '
            "<script>alert('kestrel')</script>"
        )

    def test_reactions_likes_edits_removals_and_our_own_posts_are_ignored(self, client, facebook_page):
        response = deliver(client, facebook_page, fixture("page_ignored"))

        assert response.status_code == 200
        assert response.json() == {"accepted": 0, "duplicates": 0}
        assert nothing_stored()

    def test_a_replayed_delivery_is_stored_once(self, client, facebook_page):
        first = deliver(client, facebook_page, fixture("page_comments")).json()
        replay = deliver(client, facebook_page, fixture("page_comments")).json()

        assert (first, replay) == ({"accepted": 2, "duplicates": 0}, {"accepted": 0, "duplicates": 2})
        assert Message.objects.count() == 2

    def test_an_instagram_delivery_on_a_facebook_channel_stores_nothing(self, client, facebook_page):
        response = deliver(client, facebook_page, fixture("instagram_comments"))

        assert response.json() == {"accepted": 0, "duplicates": 0}
        assert nothing_stored()


class TestMessenger:
    def test_messages_are_private_and_echoes_and_receipts_are_skipped(self, client, facebook_page):
        response = deliver(client, facebook_page, fixture("messenger"))

        assert response.json() == {"accepted": 2, "duplicates": 0}
        text, image = Message.objects.select_related("author", "conversation").order_by("posted_at")
        assert text.text == "Hi! I was charged twice for my November bill (order KM-48213). Can you refund one of them?"
        assert text.external_id.startswith("m_Zq8xK3tW0bP4Hn7fQe2")
        assert text.author.external_id == "8823456701234567"
        assert text.is_private and text.conversation.is_private
        assert text.posted_at == datetime(2026, 11, 21, 14, 5, 19, tzinfo=UTC)
        assert text.raw_payload == payload("messenger")["entry"][0]["messaging"][0]
        assert image.text == "[image attachment]"
        assert image.conversation_id == text.conversation_id
        assert not Message.objects.filter(text__startswith="Thanks Aisha").exists()


class TestInstagram:
    def test_comments_are_public_with_the_username_as_handle_and_thread_on_the_media(self, client, instagram_account):
        response = deliver(client, instagram_account, fixture("instagram_comments"))

        assert response.json() == {"accepted": 2, "duplicates": 0}  # not our own reply
        marta = Message.objects.select_related("author").get(external_id="17912345678901234")
        joao = Message.objects.select_related("author").get(external_id="18034567890123456")
        assert marta.text == "Does the Flex plan include roaming in Portugal? Flying to Lisbon on Friday 🇵🇹"
        assert (marta.author.handle, marta.author.network) == ("@marta.codes", Network.INSTAGRAM)
        assert marta.author.profile_url == "https://www.instagram.com/marta.codes/"
        assert not marta.is_private
        assert marta.in_reply_to_external_id == "18045678901234567"  # the media
        assert joao.in_reply_to_external_id == "17912345678901234"  # the comment it answers
        assert joao.conversation_id == marta.conversation_id
        assert marta.posted_at == datetime(2026, 11, 20, 9, 2, 31, tzinfo=UTC)
        assert not Identity.objects.filter(handle="@kestrelmobile").exists()

    def test_direct_messages_are_private_and_echoes_skipped(self, client, instagram_account):
        response = deliver(client, instagram_account, fixture("instagram_messages"))

        assert response.json() == {"accepted": 1, "duplicates": 0}
        message = Message.objects.select_related("author").get()
        assert message.text.startswith("hey, my new SIM still says 'no service'")
        assert message.is_private
        assert message.author.external_id == "7789012345678901"
        assert message.raw_payload == payload("instagram_messages")["entry"][0]["messaging"][0]


class TestAuthenticity:
    def test_a_tampered_body_with_the_original_signature_is_403_and_stores_nothing(self, client, facebook_page):
        original = fixture("page_posts")
        tampered = original.replace(b"I pay \xc2\xa345 a month", b"I pay \xc2\xa30 a month")
        assert tampered != original

        response = deliver(client, facebook_page, tampered, signature=sign(original))

        assert response.status_code == 403
        assert nothing_stored()

    @pytest.mark.parametrize(
        "signature",
        ["", "sha256=", sign(b"something else"), sign(b"{}", "another-app-secret"), "sha1=0123456789abcdef"],
    )
    def test_a_missing_or_wrong_signature_is_403(self, client, facebook_page, signature):
        response = deliver(client, facebook_page, fixture("page_posts"), signature=signature)

        assert response.status_code == 403
        assert nothing_stored()

    def test_the_signature_of_another_app_secret_is_403(self, client, facebook_page):
        body = fixture("page_posts")

        response = deliver(client, facebook_page, body, signature=sign(body, "another-app-secret"))

        assert response.status_code == 403

    def test_a_channel_without_an_app_secret_refuses_every_delivery(self, client, facebook_page):
        with_secrets(facebook_page, verify_token=VERIFY_TOKEN)

        response = deliver(client, facebook_page, fixture("page_posts"), signature=sign(fixture("page_posts"), ""))

        assert response.status_code == 403
        assert nothing_stored()

    def test_signed_malformed_json_is_400(self, client, facebook_page):
        response = deliver(client, facebook_page, b'{"object": "page", "entry": [')

        assert response.status_code == 400
        assert nothing_stored()

    def test_webhooks_need_no_csrf_token_nor_login(self, facebook_page):
        response = deliver(Client(enforce_csrf_checks=True), facebook_page, fixture("page_posts"))

        assert response.status_code == 200


class TestChannels:
    @pytest.mark.parametrize("method", ["put", "delete", "patch"])
    def test_only_get_and_post(self, client, facebook_page, method):
        assert getattr(client, method)("/webhooks/meta/kestrel-facebook").status_code == 405

    def test_an_unknown_channel_is_404(self, client, db):
        response = deliver(client, Channel(slug="nobody"), fixture("page_posts"))

        assert response.status_code == 404
        assert "error" in response.json()

    def test_an_inactive_channel_is_404(self, client, facebook_page):
        facebook_page.is_active = False
        facebook_page.save()

        assert deliver(client, facebook_page, fixture("page_posts")).status_code == 404

    def test_a_channel_of_another_kind_is_404(self, client, db):
        x_account = make_channel("kestrel-x")
        with_secrets(x_account, app_secret=APP_SECRET, verify_token=VERIFY_TOKEN)

        assert deliver(client, x_account, fixture("page_posts")).status_code == 404
        assert nothing_stored()


class TestParsing:
    """The parser on its own: what a delivery becomes, without a request."""

    def test_the_comment_thread(self):
        mentions = mentions_from_delivery(payload("page_comments"), kind="facebook")

        assert [(m.external_id, m.in_reply_to, m.author.name, m.private) for m in mentions] == [
            (TOMASZ_COMMENT, POST_ID, "Tomasz Nowak", False),
            ("122160012345678901_1187654321098765", TOMASZ_COMMENT, "Dana Whitfield", False),
        ]

    def test_over_long_text_is_cut_to_10000_characters_and_nul_bytes_are_dropped(self):
        delivery = payload("page_posts")
        delivery["entry"][0]["changes"][0]["value"]["message"] = "Signal\x00 " + "x" * 20_000
        delivery["entry"][1]["changes"][0]["value"]["message"] = "Half an emoji \ud83d"

        long, broken = mentions_from_delivery(delivery, kind="facebook")

        assert len(long.text) == 10_000
        assert long.text.startswith("Signal x")
        assert broken.text == "Half an emoji ?"
        assert "\x00" not in json.dumps(long.raw)

    def test_an_event_without_ids_is_skipped_and_the_rest_kept(self, caplog):
        delivery = payload("page_comments")
        del delivery["entry"][0]["changes"][0]["value"]["comment_id"]
        delivery["entry"][1]["changes"][0]["value"]["from"] = "Dana"

        assert mentions_from_delivery(delivery, kind="facebook") == []
        assert "no usable comment_id" in caplog.text
        assert "no usable from.id" in caplog.text

    @pytest.mark.parametrize("junk", [None, [], "page", {"object": "page", "entry": "x"}, {"object": "page"}])
    def test_a_delivery_of_the_wrong_shape_yields_nothing(self, junk):
        assert mentions_from_delivery(junk, kind="facebook") == []

    def test_nul_bytes_and_broken_unicode_do_not_break_storage(self, client, facebook_page):
        delivery = payload("page_posts")
        value = delivery["entry"][0]["changes"][0]["value"]
        value["message"], value["from"]["name"], value["post"]["status_type"] = "No\x00 signal", "Dana\ud83d", "x\x00"

        response = deliver(client, facebook_page, delivery)

        assert response.json() == {"accepted": 2, "duplicates": 0}
        message = Message.objects.select_related("author").get(external_id=POST_ID)
        assert (message.text, message.author.display_name) == ("No signal", "Dana?")


def test_entries_of_another_page_on_the_same_app_are_dropped(client, facebook_page):
    page_id = json.loads(fixture("page_posts"))["entry"][0]["id"]
    facebook_page.config = {"page_id": "another-page"}
    facebook_page.save()
    assert deliver(client, facebook_page, fixture("page_posts")).json()["accepted"] == 0

    facebook_page.config = {"page_id": page_id}
    facebook_page.save()
    assert deliver(client, facebook_page, fixture("page_posts")).json()["accepted"] > 0
