"""An agent takes the next conversation, writes a note, snoozes and resolves, in a real browser."""

from pathlib import Path

import pytest

from inbox.models import Conversation, Note
from tests.browser.test_first_screen import sign_in
from tests.factories import ensure_migrated_data, make_conversation, make_customer, make_user

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results"


@pytest.fixture
def waiting(transactional_db):
    ensure_migrated_data()
    make_user("sam", role="agent", queues=("service",))
    make_user("tom", role="agent", queues=("service",))
    make_conversation("service", text="Router lights blinking orange", customer=make_customer("Dana"))
    return make_conversation("service", text="No signal since Monday", customer=make_customer("Fox"), priority=3)


def test_get_next_then_note_then_resolve(page, waiting):
    sign_in(page)

    page.get_by_role("button", name="Get next").click()
    page.wait_for_url(f"**/inbox/conversations/{waiting.pk}/")
    pane = page.locator("#conversation-pane")
    assert "No signal since Monday" in pane.inner_text()
    assert "Unassign me" in pane.inner_text()

    pane.get_by_label("Internal note").fill("@tom this one is for the network team <script>window.hacked=1</script>")
    pane.get_by_role("button", name="Add note").click()
    pane.locator(".note .tag", has_text="@tom").wait_for()
    assert page.evaluate("window.hacked") is None
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "agent-actions.png")

    pane.get_by_role("button", name="Resolve").click()
    page.locator("#conversation-title").get_by_text("Dana").wait_for()  # resolved: on to the next one
    conversation = Conversation.objects.get(pk=waiting.pk)
    assert conversation.status == "resolved" and conversation.assignee.username == "sam"
    assert Note.objects.get().mentions.get().username == "tom"


def test_a_refused_action_says_why(page, waiting):
    sign_in(page)
    page.goto(f"/inbox/conversations/{waiting.pk}/")
    pane = page.locator("#conversation-pane")

    pane.get_by_label("Internal note").fill(" ")
    page.evaluate("document.querySelector('.note-form textarea').removeAttribute('required')")
    pane.get_by_role("button", name="Add note").click()

    page.get_by_role("alert").get_by_text("A note needs some text.").wait_for()


def test_the_agent_replies_and_sees_the_reply_in_the_thread(page, waiting):
    from inbox.models import CannedReply, Message

    CannedReply.objects.create(title="Outage", shortcut="outage", body="Hi {{ customer.first_name }}, we're on it.")
    sign_in(page)
    page.goto(f"/inbox/conversations/{waiting.pk}/")
    pane = page.locator("#conversation-pane")
    box = pane.get_by_label("Reply to Fox")
    pane.get_by_label("Insert a canned reply").select_option("outage")
    assert box.input_value() == "Hi Fox, we're on it."
    box.fill("/outage")
    box.press("Tab")
    assert box.input_value() == "Hi Fox, we're on it."
    box.fill("/nosuch")
    box.press("Tab")
    assert box.input_value() == "/nosuch"  # unknown shortcuts stay as typed
    box.fill("So sorry, Fox. Our engineers are on it.")
    assert "241 characters left" in pane.locator(".counter").inner_text()  # X takes 280

    pane.get_by_role("button", name="Send reply").click()

    pane.locator(".message-out", has_text="Our engineers are on it.").wait_for()
    page.screenshot(path=SCREENSHOTS / "reply-sent.png")
    reply = Message.objects.get(direction="out")
    assert reply.sent_by.username == "sam" and reply.delivery in ("queued", "sent", "failed")
