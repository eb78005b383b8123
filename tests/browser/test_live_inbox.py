"""With the inbox open, a mention ingested through the API appears without a reload, and a colleague's work shows.

Then the page the pushed events built equals a fresh load of the same page.
"""

import httpx
import pytest
from django.test import Client

from inbox.channels import issue_token
from inbox.models import Channel
from inbox.services import assign_conversation
from tests.factories import ensure_migrated_data, make_conversation, make_customer, make_user
from triage.models import Queue


@pytest.fixture
def live_inbox(asgi_server):
    ensure_migrated_data()
    sam = make_user("sam", role="agent", queues=("service",))
    tom = make_user("tom", role="agent", queues=("service",))
    channel = Channel.objects.create(
        slug="hook",
        name="Hook",
        kind=Channel.Kind.WEBHOOK,
        network="web",
        default_queue=Queue.objects.get(slug="service"),
    )
    existing = make_conversation("service", text="Router lights blinking orange", customer=make_customer("Dana"))
    return {"base": asgi_server, "token": issue_token(channel), "sam": sam, "tom": tom, "existing": existing}


def rows(page) -> list[str]:
    return page.eval_on_selector_all("#conversation-list li.row", "items => items.map(li => li.id)")


def counts(page) -> dict[str, str]:
    return dict(page.eval_on_selector_all("#queue-nav .count[id]", "items => items.map(c => [c.id, c.textContent])"))


def test_a_mention_arrives_and_a_colleagues_assignment_shows_without_a_reload(browser, live_inbox):
    base = live_inbox["base"]
    context = browser.new_context(base_url=base, viewport={"width": 1400, "height": 860})
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Signed in through a session made here (this process hashes passwords differently from the server).
    client = Client()
    client.force_login(live_inbox["sam"])
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base}])
    page.goto("/inbox/")
    page.wait_for_function("document.body.dataset.live === 'connected'")
    page.evaluate("window.notReloaded = true")

    response = httpx.post(
        f"{base}/api/v1/channels/hook/mentions",
        json={
            "external_id": "live-1",
            "text": "Still no signal in Leeds",
            "author": {"external_id": "a1", "name": "Lee"},
        },
        headers={"Authorization": f"Bearer {live_inbox['token']}"},
        timeout=10,
    )
    assert response.status_code == 202
    page.locator("#conversation-list", has_text="Still no signal in Leeds").wait_for()

    assign_conversation(conversation=live_inbox["existing"], agent=live_inbox["tom"], by=live_inbox["tom"])
    row = page.locator(f"#conversation-{live_inbox['existing'].pk}")
    row.locator(".assignee", has_text="tom").wait_for()
    assert page.evaluate("window.notReloaded") is True  # the same page all along
    assert page.title() == "Inbox · socialcrm"
    page.locator("#count-service-open", has_text="1").wait_for()  # the counts are pushed too
    assert page.inner_text("#live-status") == "● Live"

    # The page the events built lists what a fresh load lists, in the same order, with the same counts.
    live_rows = rows(page)
    fresh = context.new_page()
    fresh.goto("/inbox/?queue=service")
    assert rows(fresh) == live_rows and len(live_rows) == 2
    assert counts(page) == counts(fresh)
    assert counts(fresh)["count-service-new"].startswith("1")  # the mention; Dana's, taken by Tom, is open
    context.close()
    assert not errors, errors
