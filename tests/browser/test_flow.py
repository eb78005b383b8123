"""Working through a queue without the mouse: Ctrl+Enter sends, Resolve moves on, bulk says what it needs."""

import pytest

from inbox.models import Conversation, Label, Macro, Note
from socialcrm.models import Preferences
from tests.browser.conftest import wait_until
from tests.browser.test_first_screen import sign_in
from tests.factories import ensure_migrated_data, make_conversation, make_customer, make_user


@pytest.fixture
def three_waiting(transactional_db):
    ensure_migrated_data()
    sam = make_user("sam", role="agent", queues=("service",))
    waiting = [
        make_conversation("service", text=f"Question {n}", customer=make_customer(name), priority=3 - n)
        for n, name in enumerate(("Dana Scully", "Fox Mulder", "Walter Skinner"))
    ]
    return sam, waiting


def focused(page) -> str:
    return page.evaluate("document.activeElement.id || document.activeElement.tagName")


def test_ctrl_enter_sends_and_resolve_opens_the_next_conversation(page, three_waiting):
    _, (first, second, _) = three_waiting
    sign_in(page)
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.locator("#conversation-pane").get_by_text("Question 0").first.wait_for()

    page.keyboard.press("n")
    page.keyboard.type("Checked the order history")
    page.keyboard.press("Control+Enter")
    page.locator("#conversation-pane .note").get_by_text("Checked the order history").wait_for()
    assert Note.objects.get().conversation_id == first.pk
    assert focused(page) != "BODY"

    page.keyboard.press("Escape")
    page.keyboard.press("e")  # resolve: the next conversation opens, and focus is on it
    page.locator("#conversation-title").get_by_text("Fox Mulder").wait_for()
    wait_until(page, "document.activeElement.id === 'conversation-title'")
    assert Conversation.objects.get(pk=first.pk).status == "resolved"
    assert f"/inbox/conversations/{second.pk}/" in page.url


def test_with_the_list_preference_resolve_goes_back_to_the_next_row(page, three_waiting):
    sam, (first, second, _) = three_waiting
    Preferences.objects.create(user=sam, after_done="list")
    sign_in(page)
    page.goto(f"/inbox/conversations/{first.pk}/?queue=service")

    page.keyboard.press("e")

    wait_until(page, f"document.activeElement.closest && !!document.activeElement.closest('#conversation-{second.pk}')")
    assert Conversation.objects.get(pk=first.pk).status == "resolved"


def test_bulk_with_nothing_ticked_says_so_and_all_shown_ticks_every_row(page, three_waiting):
    sign_in(page)
    page.get_by_label("With the selected").select_option("pending")
    page.get_by_role("button", name="Apply").click()
    problem = page.locator("#bulk-problem")
    assert problem.inner_text() == "Tick the conversations first (or All shown)."
    assert focused(page) == "pick-all"
    assert set(Conversation.objects.values_list("status", flat=True)) == {"new"}

    page.keyboard.press("Space")  # All shown
    assert page.locator("#conversation-list .row .pick:checked").count() == 3
    page.get_by_role("button", name="Apply").click()
    page.get_by_text("Mark pending: 3 conversations.").wait_for()
    assert set(Conversation.objects.values_list("status", flat=True)) == {"pending"}


def test_taking_over_a_colleagues_conversation_asks_first(page, three_waiting):
    _, (first, _, _) = three_waiting
    kim = make_user("kim", role="agent", queues=("service",))
    Conversation.objects.filter(pk=first.pk).update(assignee=kim, status="open")
    answers = iter([False, True])  # no, then yes
    page.on("dialog", lambda dialog: dialog.accept() if next(answers) else dialog.dismiss())
    sign_in(page)
    page.goto(f"/inbox/conversations/{first.pk}/?queue=service")

    page.get_by_role("button", name="Take over").click()
    page.wait_for_timeout(300)
    assert Conversation.objects.get(pk=first.pk).assignee == kim  # said no: nothing changed

    page.keyboard.press("a")  # the same button, from the keyboard: asks again
    page.get_by_role("button", name="Unassign me").wait_for()
    assert Conversation.objects.get(pk=first.pk).assignee.username == "sam"


def test_a_macro_is_chosen_and_applied_from_the_keyboard(page, three_waiting):
    _, (first, _, _) = three_waiting
    macro = Macro.objects.create(
        name="Refund on its way",
        reply="Hi {{ customer.first_name }}, your refund is on its way.",
        set_status="resolved",
    )
    macro.add_labels.set([Label.objects.create(name="refund")])
    sign_in(page)
    page.goto(f"/inbox/conversations/{first.pk}/?queue=service")

    page.keyboard.press("m")
    assert focused(page) == f"macro-{first.pk}"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")

    page.locator("#conversation-title").get_by_text("Fox Mulder").wait_for()  # it resolved, so the next opened
    done = Conversation.objects.get(pk=first.pk)
    assert done.status == "resolved" and list(done.labels.values_list("name", flat=True)) == ["refund"]
    assert done.messages.get(direction="out").text == "Hi Dana, your refund is on its way."
