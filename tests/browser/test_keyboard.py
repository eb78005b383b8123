"""An agent works without a mouse: j/k through the list, Enter to open, single keys for actions."""

import pytest

from inbox.models import Conversation
from tests.browser.conftest import wait_until
from tests.browser.test_first_screen import sign_in
from tests.factories import ensure_migrated_data, make_conversation, make_customer, make_user


@pytest.fixture
def two_waiting(transactional_db):
    ensure_migrated_data()
    make_user("sam", role="agent", queues=("service",))
    first = make_conversation("service", text="Urgent: no signal", customer=make_customer("Dana"), priority=3)
    second = make_conversation("service", text="Where is my bill?", customer=make_customer("Fox"))
    return first, second


def test_the_list_and_the_actions_work_from_the_keyboard(page, two_waiting):
    first, second = two_waiting
    sign_in(page)

    page.keyboard.press("j")
    assert "Urgent: no signal" in page.evaluate("document.activeElement.innerText")
    page.keyboard.press("j")
    assert "Where is my bill?" in page.evaluate("document.activeElement.innerText")
    page.keyboard.press("Enter")
    pane = page.locator("#conversation-pane")
    pane.get_by_text("Where is my bill?").first.wait_for()

    page.keyboard.press("a")
    pane.get_by_role("button", name="Unassign me").wait_for()
    assert Conversation.objects.get(pk=second.pk).assignee.username == "sam"

    page.keyboard.press("n")
    assert page.evaluate("document.activeElement.name") == "text"
    page.keyboard.type("checking the bill run e s g")  # keys typed into a box do nothing else
    assert Conversation.objects.get(pk=second.pk).status == "open"
    page.keyboard.press("Escape")

    page.keyboard.press("?")
    assert page.locator("#keys-help").is_visible()
    page.keyboard.press("Escape")
    assert not page.locator("#keys-help").is_visible()

    page.keyboard.press("e")
    pane.get_by_role("button", name="Reopen").wait_for()
    assert Conversation.objects.get(pk=second.pk).status == "resolved"
    assert Conversation.objects.get(pk=first.pk).status == "new"


def test_opening_a_conversation_moves_focus_to_it(page, two_waiting):
    sign_in(page)

    page.keyboard.press("j")
    page.keyboard.press("Enter")

    wait_until(page, "document.activeElement && document.activeElement.id === 'conversation-title'")
    assert "Dana" in page.evaluate("document.activeElement.innerText")
    page.keyboard.press("j")  # the list keys still work from the conversation
    assert "Where is my bill?" in page.evaluate("document.activeElement.innerText")
