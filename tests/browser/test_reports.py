"""A manager's reports in the browser: the charts draw, a bar opens its conversations, and the
queue board follows the floor live."""

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from inbox.models import Channel
from inbox.tokens import issue_token
from reports import rollups
from tests.browser.conftest import wait_until
from tests.factories import ensure_migrated_data, make_conversation, make_user
from triage.models import Queue


@pytest.fixture
def floor(asgi_server):
    ensure_migrated_data()
    manager = make_user("maria", role="manager")
    make_user("sam", role="agent", queues=("service",))
    opened = [make_conversation("service", text=f"No signal, day {n}") for n in range(3)]
    make_conversation("sales", text="Business pricing?")
    rollups.rebuild()
    channel = Channel.objects.create(
        slug="hook",
        name="Hook",
        kind=Channel.Kind.WEBHOOK,
        network="web",
        default_queue=Queue.objects.get(slug="service"),
    )
    return {"manager": manager, "opened": opened, "token": issue_token(channel), "base": asgi_server}


def this_week() -> str:
    today = timezone.now().date()
    return f"/reports/?from={today - timedelta(days=6)}&to={today}"


def test_a_bar_of_the_opened_chart_opens_those_conversations(signed_in, floor):
    page = signed_in(floor["manager"])
    page.goto(this_week())
    wait_until(page, "typeof Chart !== 'undefined' && Chart.getChart(document.getElementById('chart-opened'))")
    # Today's Service segment, where Chart.js drew it.
    point = page.evaluate(
        """() => {
            const canvas = document.getElementById('chart-opened');
            const chart = Chart.getChart(canvas);
            const series = chart.data.datasets.findIndex(d => d.label === 'Service');
            const bar = chart.getDatasetMeta(series).data[chart.data.labels.length - 1];
            const box = canvas.getBoundingClientRect();
            return {x: box.left + bar.x, y: box.top + (bar.y + bar.base) / 2};
        }"""
    )
    page.mouse.click(point["x"], point["y"])
    page.wait_for_url("**/inbox/?*")
    shown = page.eval_on_selector_all("#conversation-list li.row", "rows => rows.map(li => li.id)")
    assert sorted(shown) == sorted(f"conversation-{c.pk}" for c in floor["opened"])
    assert "Opened" in page.locator(".list-filters .chip").inner_text()
    assert not page.errors


def test_every_chart_has_its_figures_as_a_table(signed_in, floor):
    page = signed_in(floor["manager"])
    page.goto(this_week())
    charts = page.locator(".chart-card")
    assert charts.count() == 7
    for card in charts.all():
        card.locator("summary").click()
        assert card.locator("table tbody tr").count() == 7, "a row per day of the week shown"
    link = page.locator("#chart-opened-title ~ details a:not([download])").first
    assert link.get_attribute("href").startswith("/inbox/?queue=")


NEW_IN_SERVICE = """(() => {
    const queue = document.querySelector("section[aria-labelledby=board-service]");
    const fact = [...queue.querySelectorAll("dl div")].find((div) => div.querySelector("dt").textContent === "New");
    return Number(fact.querySelector("dd").textContent);
})()"""


def test_the_queue_board_follows_a_new_mention_without_a_reload(signed_in, floor):
    page = signed_in(floor["manager"])
    page.goto("/inbox/board")
    wait_until(page, "document.getElementById('live-status').textContent.includes('Live')")
    page.evaluate("window.notReloaded = true")
    before = page.evaluate(NEW_IN_SERVICE)
    response = httpx.post(
        f"{floor['base']}/api/v1/channels/hook/mentions",
        json={
            "external_id": "live-1",
            "text": "My router keeps dropping",
            "author": {"external_id": "a1", "name": "Lee"},
        },
        headers={"Authorization": f"Bearer {floor['token']}"},
        timeout=10,
    )
    assert response.status_code == 202
    wait_until(page, f"{NEW_IN_SERVICE} === {before + 1}")
    assert page.evaluate("window.notReloaded")
    assert not page.errors
