"""An agent reads why a message was routed, corrects it, and sends the conversation elsewhere."""

from pathlib import Path

import pytest

from inbox.models import Conversation
from inbox.services.triage import triage_messages
from tests.browser.test_first_screen import sign_in
from tests.factories import ensure_migrated_data, make_conversation, make_customer, make_user
from triage.models import Correction, TriageDecision

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results"


@pytest.fixture
def triaged_question(transactional_db):
    ensure_migrated_data()
    make_user("sam", role="agent", queues=("service",))
    conversation = make_conversation("service", text="How do I reset my voicemail PIN?", customer=make_customer("Dana"))
    triage_messages(message_ids=[conversation.messages.get().pk])
    return conversation


def test_the_agent_opens_the_reason_corrects_it_with_the_keyboard_and_moves_the_conversation(page, triaged_question):
    sign_in(page)
    page.goto(f"/inbox/conversations/{triaged_question.pk}/")
    pane = page.locator("#conversation-pane")
    summary = pane.locator("details.triage summary")
    assert "Why: rule 'Questions': question" in summary.inner_text()

    summary.focus()
    page.keyboard.press("Enter")  # a <details> opens from the keyboard
    form = pane.locator("details.triage form")
    form.get_by_label("Type").select_option("lead")
    form.get_by_label("Sentiment").select_option("positive")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "triage-correction.png")
    form.get_by_role("button", name="Correct").click()

    pane.locator(".tag", has_text="Sales lead").first.wait_for()
    assert TriageDecision.objects.get().message_type == "lead"
    assert Correction.objects.filter(field="type", new_value="lead").exists()

    pane.get_by_label("Queue").select_option("product")
    pane.get_by_role("button", name="Move").click()

    page.wait_for_url("**/inbox/")
    page.get_by_text("Moved to Product").wait_for()
    assert Conversation.objects.get(pk=triaged_question.pk).queue.slug == "product"
