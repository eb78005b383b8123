"""Customer-written text is hostile: the common XSS payloads arrive through ingest and none runs."""

import pytest

from inbox.mentions import IncomingAuthor, IncomingMention
from inbox.models import Conversation
from inbox.services.ingest import ingest
from tests.browser.test_first_screen import sign_in
from tests.factories import ensure_migrated_data, make_channel, make_user

PAYLOADS = [
    "<script>window.__xss = 1</script>",
    '<img src=x onerror="window.__xss = 2">',
    '<svg onload="window.__xss = 3"><circle r=1 /></svg>',
    '"><script>window.__xss = 4</script>',
    '<a href="javascript:window.__xss = 5">click</a>',
    '<iframe srcdoc="<script>parent.__xss = 6</script>"></iframe>',
    "{{ 7 * 7 }} {% debug %}",
    '<details open ontoggle="window.__xss = 8">',
]


@pytest.fixture
def hostile(transactional_db):
    ensure_migrated_data()
    make_user("maria", role="manager")
    channel = make_channel("x-main")
    mentions = [
        IncomingMention(
            external_id=f"x{n}",
            text=f"Complaint {n}: {payload}",
            url="javascript:window.__xss = 99",
            author=IncomingAuthor(external_id=f"a{n}", handle=f"@h{n}", name=payload[:60], followers=10),
        )
        for n, payload in enumerate(PAYLOADS)
    ]
    ingest(channel=channel, mentions=mentions)


def test_no_payload_runs_anywhere_an_agent_or_manager_looks(page, hostile):
    alerts = []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
    sign_in(page, login="maria")

    conversations = list(Conversation.objects.select_related("queue"))
    assert len(conversations) == len(PAYLOADS)
    for queue in {c.queue.slug for c in conversations}:  # triage spread them over queues
        page.goto(f"/inbox/?queue={queue}")
        rows = page.locator("#conversation-list .row a")
        for index in range(rows.count()):
            rows.nth(index).click()
            page.locator("#conversation-title").wait_for()
            page.locator(".thread .message-in").first.wait_for()
            assert page.locator("a[href^='javascript:']").count() == 0
    page.goto("/inbox/board")

    assert page.evaluate("window.__xss") is None and alerts == []
    first = next(c for c in conversations if "window.__xss = 1" in c.snippet)
    page.goto(f"/inbox/conversations/{first.pk}/")
    assert "<script>window.__xss = 1</script>" in page.locator(".thread").inner_text()  # shown as text, not run
