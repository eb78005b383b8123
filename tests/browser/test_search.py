"""An agent finds last week's conversation by a word typed into the list's search box, without the mouse."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inbox.models import Conversation
from tests.browser.conftest import wait_until
from tests.browser.test_first_screen import sign_in
from tests.factories import ensure_migrated_data, make_conversation, make_customer, make_user


@pytest.fixture
def a_week_of_work(transactional_db):
    ensure_migrated_data()
    make_user("sam", role="agent", queues=("service",))
    last_week = timezone.now() - timedelta(days=6)
    roaming = make_conversation(
        "service",
        text="Roaming in Lisbon cost me 40 euros <b>again</b>",
        customer=make_customer("Priya Patel"),
        status=Conversation.Status.RESOLVED,
        resolved_at=last_week,
    )
    for number in range(5):
        make_conversation("service", text=f"Router problem number {number}", customer=make_customer(f"Fox {number}"))
    return roaming


def test_typing_a_word_narrows_the_list_as_you_type_and_keeps_what_you_typed(page, a_week_of_work):
    sign_in(page)
    page.get_by_role("link", name="All").click()
    page.wait_for_url("**status=all**")

    page.keyboard.press("/")  # the search box, from anywhere but a text box
    assert page.evaluate("document.activeElement.id") == "filter-q"
    page.keyboard.type("roam", delay=40)
    wait_until(page, "document.querySelectorAll('#conversation-list .row').length === 1")

    box = page.locator("#filter-q")
    assert box.input_value() == "roam" and page.evaluate("document.activeElement.id") == "filter-q"
    assert page.evaluate("document.activeElement.selectionStart") == 4  # the caret stayed at the end
    row = page.locator("#conversation-list .row")
    assert "Priya Patel" in row.inner_text()
    assert row.locator("mark").inner_text() == "Roaming"
    assert "<b>again</b>" in row.inner_text()  # the customer's markup is shown as text
    assert "q=roam" in page.url  # bookmarkable

    page.keyboard.type("ing paris", delay=20)
    page.get_by_text("matches “roaming paris”").wait_for()
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    assert page.evaluate("document.activeElement.id") != "filter-q"  # keys work again out of the box
