"""Replies go out on the customer's own channel, retry on passing failures, and say why when they fail."""

import json

import httpx
import pytest
from django.core import mail

from inbox import senders
from inbox.models import Channel, Conversation, Event, Message
from inbox.services.replies import QUEUED_TOO_LONG, deliver, reply
from inbox.tasks import deliver_reply
from tests import helpers
from tests.factories import make_conversation
from tests.helpers import HX, conversation_on, queued_reply

pytestmark = pytest.mark.django_db
FIXTURES = helpers.FIXTURES / "replies"


def recorded(name: str, requests: list):
    """An httpx client answering every request with a recorded response, keeping what was sent."""
    fixture = json.loads((FIXTURES / f"{name}.json").read_text())

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(fixture["status"], json=fixture["body"])

    return httpx.Client(transport=httpx.MockTransport(answer))


def test_a_reply_on_a_generic_channel_goes_through_the_sandbox(
    agent_in_service_queue, django_capture_on_commit_callbacks
):
    conversation = conversation_on(Channel.Kind.WEBHOOK, "web")

    with django_capture_on_commit_callbacks(execute=True):
        message = queued_reply(conversation, agent_in_service_queue)

    message.refresh_from_db()
    assert message.delivery == "sent" and message.external_id == f"sandbox-{message.pk}"
    assert message.raw_payload["sandbox"]["text"] == "Sorry about that! We're on it."
    assert message.in_reply_to_external_id == "post-123"
    conversation.refresh_from_db()
    assert conversation.first_response_at is not None and conversation.assignee == agent_in_service_queue
    assert conversation.status == "open"
    assert Event.objects.filter(kind=Event.Kind.REPLY_SENT).exists()


def test_a_public_facebook_reply_comments_on_the_post(agent_in_service_queue):
    conversation = conversation_on(Channel.Kind.FACEBOOK, "facebook", page_access_token="EAAG-page-token")
    message = queued_reply(conversation, agent_in_service_queue)
    sent = []

    assert deliver(message_id=message.pk, client=recorded("meta_comment_ok", sent)) == "sent"

    assert str(sent[0].url) == f"{senders.GRAPH_URL}/post-123/comments"
    assert sent[0].headers["Authorization"] == "Bearer EAAG-page-token"
    assert json.loads(sent[0].content) == {"message": "Sorry about that! We're on it."}
    assert Message.objects.get(pk=message.pk).external_id == "1029384756_5647382910"


def test_a_private_facebook_reply_is_a_messenger_message_to_the_customer(agent_in_service_queue):
    conversation = conversation_on(Channel.Kind.FACEBOOK, "facebook", private=True, page_access_token="t")
    message = queued_reply(conversation, agent_in_service_queue, private=True)
    sent = []

    assert deliver(message_id=message.pk, client=recorded("meta_message_ok", sent)) == "sent"

    body = json.loads(sent[0].content)
    author = conversation.messages.filter(direction="in").get().author
    assert str(sent[0].url).endswith("/me/messages") and body["recipient"] == {"id": author.external_id}


def test_an_x_reply_is_a_reply_tweet_and_a_private_one_a_dm(agent_in_service_queue):
    conversation = conversation_on(Channel.Kind.X, "x", user_access_token="x-user-token")
    public = queued_reply(conversation, agent_in_service_queue)
    sent = []

    assert deliver(message_id=public.pk, client=recorded("x_tweet_ok", sent)) == "sent"
    assert json.loads(sent[0].content) == {
        "text": "Sorry about that! We're on it.",
        "reply": {"in_reply_to_tweet_id": "post-123"},
    }
    assert Message.objects.get(pk=public.pk).external_id == "1861234999999999999"

    private = queued_reply(conversation, agent_in_service_queue, private=True, text="Please DM us your number")
    assert deliver(message_id=private.pk, client=recorded("x_dm_ok", sent)) == "sent"
    assert "/dm_conversations/with/" in str(sent[1].url)


@pytest.mark.parametrize("fixture", ["x_rate_limited", "x_server_error"])
def test_429_and_5xx_leave_the_reply_queued_for_another_try_then_it_fails(agent_in_service_queue, fixture):
    conversation = conversation_on(Channel.Kind.X, "x", user_access_token="t")
    message = queued_reply(conversation, agent_in_service_queue)

    for _ in range(4):
        assert deliver(message_id=message.pk, client=recorded(fixture, [])) == "queued"
    assert deliver(message_id=message.pk, client=recorded(fixture, [])) == "failed"

    message.refresh_from_db()
    assert message.delivery_attempts == 5 and "trying again later" in message.delivery_error


def test_a_refusal_fails_at_once_with_the_platforms_reason_and_can_be_sent_again(agent_client, agent_in_service_queue):
    conversation = conversation_on(Channel.Kind.FACEBOOK, "facebook", page_access_token="expired")
    message = queued_reply(conversation, agent_in_service_queue)

    assert deliver(message_id=message.pk, client=recorded("meta_token_expired", [])) == "failed"
    message.refresh_from_db()
    assert "Session has expired" in message.delivery_error

    page = agent_client.get(f"/inbox/conversations/{conversation.pk}/").content.decode()
    assert "Session has expired" in page and "Send again" in page

    response = agent_client.post(f"/inbox/messages/{message.pk}/retry", headers=HX)
    assert response.status_code == 200
    assert Message.objects.get(pk=message.pk).delivery == "queued"  # with a fresh set of tries
    again = agent_client.post(f"/inbox/messages/{message.pk}/retry", headers=HX)
    assert again.status_code == 400 and "Only a reply that failed can be sent again." in again.content.decode()
    assert Message.objects.get(pk=message.pk).delivery == "queued"


def test_a_channel_without_its_token_fails_clearly(agent_in_service_queue):
    conversation = conversation_on(Channel.Kind.X, "x")
    message = queued_reply(conversation, agent_in_service_queue)

    assert deliver(message_id=message.pk, client=recorded("x_tweet_ok", [])) == "failed"
    assert "no 'user_access_token' secret" in Message.objects.get(pk=message.pk).delivery_error


def test_an_email_reply_answers_in_the_same_thread(agent_in_service_queue, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    conversation = conversation_on(Channel.Kind.EMAIL, "email")
    Conversation.objects.filter(pk=conversation.pk).update(subject="My bill")
    conversation.customer.email = "dana@example.com"
    conversation.customer.save()
    Message.objects.filter(conversation=conversation).update(external_id="<abc@mail.example>")
    message = queued_reply(conversation, agent_in_service_queue)

    assert deliver(message_id=message.pk) == "sent"

    sent = mail.outbox[0]
    assert sent.to == ["dana@example.com"] and sent.subject == "Re: My bill"
    assert sent.extra_headers["In-Reply-To"] == "<abc@mail.example>"


def test_the_task_retries_a_passing_failure_and_marks_it_failed_after_the_last_try(
    agent_in_service_queue, monkeypatch, django_capture_on_commit_callbacks
):
    conversation = conversation_on(Channel.Kind.X, "x", user_access_token="t")
    calls = []

    def unavailable(message, client=None):
        calls.append(message.pk)
        raise senders.SendError("The network answered 503; trying again later.", retryable=True)

    monkeypatch.setattr(senders, "send", unavailable)
    waits = []
    retry = deliver_reply.retry

    def recording_the_wait(*args, countdown=None, **kwargs):
        waits.append(countdown)
        return retry(*args, countdown=countdown, **kwargs)

    monkeypatch.setattr(deliver_reply, "retry", recording_the_wait)
    with django_capture_on_commit_callbacks(execute=True):
        message = queued_reply(conversation, agent_in_service_queue)  # tasks run in-process here

    message.refresh_from_db()
    assert len(calls) == 5 and message.delivery == "failed"
    assert waits == [30, 60, 120, 240]  # Celery's own backoff between the tries
    assert sum(waits) < QUEUED_TOO_LONG.total_seconds()  # the sweep leaves a task in its waits alone


def test_reply_in_the_browser_pane_and_its_limits(agent_client):
    conversation = conversation_on(Channel.Kind.X, "x", user_access_token="t")
    url = f"/inbox/conversations/{conversation.pk}/reply"

    assert agent_client.post(url, {"text": "  "}).status_code == 400
    too_long = agent_client.post(url, {"text": "x" * 281})
    assert too_long.status_code == 400 and "at most 280" in too_long.content.decode()
    response = agent_client.post(url, {"text": "We're on it <b>now</b>"}, headers=HX)

    assert response.status_code == 200
    body = response.content.decode()
    assert "We&#x27;re on it &lt;b&gt;now&lt;/b&gt;" in body and "280 characters left" in body
    assert Message.objects.filter(direction="out").count() == 1


def test_nobody_replies_on_a_conversation_they_cannot_see(agent_client):
    elsewhere = make_conversation("pr")

    assert agent_client.post(f"/inbox/conversations/{elsewhere.pk}/reply", {"text": "hi"}).status_code == 404
    assert not Message.objects.filter(direction="out").exists()


def test_a_reply_after_a_colleagues_asks_to_confirm_and_keeps_the_draft(agent_client, agent_in_service_queue):
    from tests.factories import make_user

    conversation = make_conversation("service")
    seen = conversation.messages.get().pk
    colleague = make_user("tom", queues=("service",))
    reply(conversation=conversation, text="Tom's answer", private=False, by=colleague)
    url = f"/inbox/conversations/{conversation.pk}/reply"
    headers = {"HX-Request": "true", "HX-Target": "conversation-pane"}

    asked = agent_client.post(url, {"text": "My answer", "seen": seen}, headers=headers)

    page = asked.content.decode()
    assert asked.status_code == 409 and "tom replied since you opened this conversation" in page
    assert ">My answer</textarea>" in page and 'name="confirm" value="1"' in page
    assert conversation.messages.filter(direction="out").count() == 1
    sent = agent_client.post(url, {"text": "My answer", "seen": seen, "confirm": "1"}, headers=headers)
    assert sent.status_code == 200 and conversation.messages.filter(direction="out").count() == 2
    # Having seen Tom's reply (it was in the pane), there is nothing to confirm.
    latest = conversation.messages.order_by("-pk").first().pk
    agent_client.post(url, {"text": "And one more", "seen": latest}, headers=headers)
    assert conversation.messages.filter(direction="out").count() == 3
