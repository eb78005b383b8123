"""From a conversation to the whole customer: the timeline pages, the chart draws; a manager merges and undoes."""

from datetime import timedelta

import pytest
from django.utils import timezone

from customers.models import Customer, Identity, Network
from inbox.models import Message
from inbox.services.triage import triage_messages
from tests.browser.conftest import wait_until
from tests.browser.test_first_screen import sign_in
from tests.factories import ensure_migrated_data, make_channel, make_conversation, make_customer, make_user


@pytest.fixture
def dana(transactional_db):
    ensure_migrated_data()
    make_user("sam", role="agent", queues=("service",))
    make_user("maria", role="manager")
    dana = make_customer("Dana Scully", email="dana@example.com")
    conversation = make_conversation("service", customer=dana, text="My router blinks red, please help")
    start = timezone.now() - timedelta(days=90)
    for n in range(45):
        Message.objects.create(
            channel=conversation.channel,
            conversation=conversation,
            external_id=f"older-{n}",
            author=Identity.objects.get(customer=dana),
            text=f"Update number {n}: still broken",
            posted_at=start + timedelta(days=n * 2),
        )
    triage_messages(message_ids=list(Message.objects.values_list("pk", flat=True)))
    return dana


def test_an_agent_opens_the_whole_customer_and_pages_back_through_history(page, dana):
    sign_in(page)
    page.get_by_role("link", name="Dana Scully").first.click()
    page.get_by_role("link", name="Whole customer").click()
    page.wait_for_url(f"**/customers/{dana.pk}/")

    timeline = page.locator(".timeline")
    assert timeline.locator("li.entry").count() == 30
    page.get_by_role("link", name="Show older").focus()
    page.keyboard.press("Enter")
    timeline.locator("li.entry").nth(45).wait_for()
    # Focus lands on the first entry brought in, so the keyboard carries on from there.
    wait_until(page, "document.activeElement.matches('.timeline li.entry')")
    assert page.evaluate("[...document.querySelectorAll('.timeline li.entry')].indexOf(document.activeElement)") == 30
    assert timeline.locator("li.entry").count() == 46 and page.get_by_role("link", name="Show older").count() == 0
    assert "Update number 0: still broken" in timeline.locator("li.entry").last.inner_text()
    # The chart is drawn from the page's figures: one bar per month with messages.
    assert page.evaluate("Chart.getChart('sentiment-chart').data.labels.length") >= 3

    page.get_by_label("New note about this customer").fill("Prefers e-mail <img src=x onerror=window.hacked=1>")
    page.get_by_role("button", name="Add note").click()
    page.locator(".notes .note", has_text="Prefers e-mail").wait_for()
    assert page.evaluate("window.hacked") is None


def test_a_manager_merges_a_duplicate_and_undoes_it(page, dana):
    twin = make_customer("D. Scully", email="DANA@example.com", tier="vip")
    make_conversation(
        "service", customer=twin, text="Also me, by e-mail", channel=make_channel("mail", network=Network.EMAIL)
    )
    sign_in(page, "maria")
    page.goto("/customers/duplicates")
    row = page.locator("tr", has_text="same e-mail dana@example.com")
    row.get_by_role("link", name="Review merge").click()
    page.get_by_role("heading", name=f"Merge #{twin.pk} into #{dana.pk}?").wait_for()
    page.get_by_role("button", name=f"Merge #{twin.pk} into #{dana.pk}").click()

    page.locator(".flash", has_text=f"Merged #{twin.pk} (D. Scully)").wait_for()
    assert "Also me, by e-mail" in page.locator(".timeline").inner_text()
    assert Customer.objects.get(pk=twin.pk).merged_into_id == dana.pk

    page.get_by_role("button", name="Undo merge").click()
    page.locator(".flash", has_text="Merge undone").wait_for()
    assert "Also me, by e-mail" not in page.locator(".timeline").inner_text()
    assert Customer.objects.get(pk=twin.pk).merged_into_id is None
