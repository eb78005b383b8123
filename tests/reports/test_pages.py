"""The reports as a manager uses them: pages, the click-through to conversations, the CSV, the API,
who may see them, and the bad input they refuse. Cards, tables, CSV and API read one code path; the
tests here check that they agree on the same data."""

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from inbox.models import Conversation, Status
from inbox.services.conversations import change_status
from inbox.services.ingest import ingest
from inbox.services.replies import reply
from inbox.services.triage import change_queue
from reports import rollups
from reports.figures import Period, total
from socialcrm.models import ApiToken
from tests.factories import make_channel, make_user
from tests.helpers import mention
from triage.models import Queue

pytestmark = pytest.mark.django_db


@pytest.fixture
def week(django_capture_on_commit_callbacks):
    """Five conversations this week: three in Service (one answered and resolved), two in Sales."""
    agent = make_user("sam", role="agent", queues=("service", "sales"))
    channel = make_channel("x-main")
    channel.default_queue = Queue.objects.get(slug="service")
    channel.save()
    made = []
    for n in range(5):
        with django_capture_on_commit_callbacks(execute=True):
            result = ingest(channel=channel, mentions=[mention(f"m{n}", "My phone has no signal", author=f"u{n}")])
        made.append(Conversation.objects.get(pk=result.messages[0].conversation_id))
    for conversation in made[3:]:
        with django_capture_on_commit_callbacks(execute=True):
            change_queue(conversation=conversation, queue=Queue.objects.get(slug="sales"), by=agent)
    with django_capture_on_commit_callbacks(execute=True):
        reply(conversation=made[0], text="On it.", by=agent, private=False)
    with django_capture_on_commit_callbacks(execute=True):
        change_status(conversation=made[0], status=Status.RESOLVED, by=agent)
    return made


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def dates() -> dict:
    today = timezone.now().date()
    return {"from": (today - timedelta(days=6)).isoformat(), "to": today.isoformat()}


def test_the_overview_shows_the_periods_figures(manager_client, week):
    response = manager_client.get("/reports/", dates())
    assert response.status_code == 200
    page = response.content.decode()
    assert re.search(r"Conversations opened</h2><p class=\"figure\">5<", page)
    assert "1 reopened of" not in page and "0 reopened of 1 resolved" in page
    charts = re.findall(r'<script id="chart-([\w-]+)-data" type="application/json">', page)
    assert {"opened", "traffic", "response-times", "sla-met", "missed", "backlog", "reopens"} <= set(charts)


def test_a_bar_links_to_the_conversations_behind_it(manager_client, week):
    page = manager_client.get("/reports/", dates()).content.decode()
    spec = json.loads(re.search(r'id="chart-opened-data" type="application/json">(.*?)</script>', page).group(1))
    service = spec["datasets"].index(next(d for d in spec["datasets"] if d["label"] == "Service"))
    today = len(spec["labels"]) - 1
    assert spec["datasets"][service]["data"][today] == 3
    link = spec["links"][service][today]
    listed = manager_client.get(link)
    assert listed.status_code == 200
    shown = set(map(int, re.findall(r'id="conversation-(\d+)"', listed.content.decode())))
    assert shown == {week[0].pk, week[1].pk, week[2].pk}, "the three Service conversations, resolved one too"
    exports = re.findall(r'<a href="([^"]+)" download title="These conversations as CSV">', page)
    assert len(exports) == 7, "a CSV of each day's conversations beside the chart"
    body = b"".join(manager_client.get(exports[-1].replace("&amp;", "&")).streaming_content).decode()
    assert len(body.strip().splitlines()) == 1 + 5


def test_by_queue_table_agrees_with_the_cards(manager_client, week):
    page = manager_client.get("/reports/queues/", dates()).content.decode()
    rows = dict(re.findall(r'<th scope="row"><a [^>]*>(\w+)</a></th>\s*<td>(\d+)</td>', page))
    assert rows == {"Service": "3", "Sales": "2"}
    assert sum(map(int, rows.values())) == total(Period.from_query(dates()))["opened"]


def test_by_agent_shows_what_each_did(manager_client, week):
    page = manager_client.get("/reports/agents/", dates()).content.decode()
    assert re.search(r"<th scope=\"row\">sam</th>\s*<td>1</td><td>1</td><td>1</td>", page)


def test_the_csv_api_and_cards_agree(manager_client, week):
    query = dates()
    per_conversation = manager_client.get("/reports/export.csv", {**query, "group": "conversation"})
    assert per_conversation["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(per_conversation.streaming_content).decode())))
    per_day = manager_client.get("/reports/export.csv", {**query, "group": "day"})
    days = list(csv.DictReader(io.StringIO(b"".join(per_day.streaming_content).decode())))
    summary = manager_client.get("/api/v1/reports/summary", query).json()
    assert len(rows) == summary["conversations"] == sum(int(day["opened"]) for day in days) == 5
    assert summary["resolutions"] == sum(int(day["resolutions"]) for day in days) == 1
    assert summary["first_response"]["targets_met"] == 1
    assert days[-1]["backlog_at_end"] == str(summary["backlog_at_end"]) == "4"
    answered = next(row for row in rows if row["conversation_id"] == str(week[0].pk))
    assert answered["first_response_met"] == "yes" and answered["resolution_met"] == "yes"
    assert answered["assignee"] == "sam"


def test_a_customer_name_that_looks_like_a_formula_stays_text(manager_client, week):
    Conversation.objects.filter(pk=week[1].pk).update(customer=week[1].customer)
    week[1].customer.name = '=HYPERLINK("http://evil.example","x")'
    week[1].customer.save()
    body = b"".join(manager_client.get("/reports/export.csv", {**dates(), "group": "conversation"}).streaming_content)
    assert b"'=HYPERLINK" in body and b",=HYPERLINK" not in body.replace(b'"', b"")


def test_a_queue_narrows_every_figure(manager_client, week):
    query = {**dates(), "queue": "sales"}
    summary = manager_client.get("/api/v1/reports/summary", query).json()
    body = b"".join(manager_client.get("/reports/export.csv", {**query, "group": "conversation"}).streaming_content)
    assert summary["conversations"] == 2 == len(body.decode().strip().splitlines()) - 1
    assert summary["queue"] == "sales"


def test_a_reports_token_reads_the_summary(client, week):
    _, secret = ApiToken.issue(name="BI", scope=ApiToken.Scope.REPORTS)
    answer = client.get("/api/v1/reports/summary", dates(), headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200 and answer.json()["conversations"] == 5
    _, triage_secret = ApiToken.issue(name="other", scope=ApiToken.Scope.TRIAGE)
    wrong = client.get("/api/v1/reports/summary", dates(), headers={"Authorization": f"Bearer {triage_secret}"})
    assert wrong.status_code == 401
    assert client.get("/api/v1/reports/summary", dates()).status_code == 401


@pytest.mark.parametrize(
    "query, reason",
    [
        ({"from": "2026-13-01"}, "must be a date"),
        ({"from": "yesterday"}, "must be a date"),
        ({"from": "2026-02-10", "to": "2026-02-01"}, "is after"),
        ({"from": "1999-12-31", "to": "2000-01-05"}, "Choose days between"),
        ({"from": "2026-01-01", "to": "2026-03-01", "bucket": "hour"}, "at most 31 days"),
        ({"bucket": "fortnight"}, "Unknown bucket"),
        ({"queue": "no-such-queue"}, "Unknown queue"),
    ],
)
def test_bad_parameters_get_a_clear_400(manager_client, query, reason):
    for url in ("/reports/", "/reports/agents/", "/api/v1/reports/summary"):
        if url.startswith("/api") and "bucket" in query:
            continue
        response = manager_client.get(url, query)
        assert response.status_code == 400, url
        assert reason in response.content.decode(), url
    response = manager_client.get("/reports/export.csv", {**query, "group": "day"})
    if "bucket" not in query and "hour" not in str(query):
        assert response.status_code == 400 and reason in response.content.decode()


def test_an_unknown_grouping_is_a_400(manager_client):
    response = manager_client.get("/reports/export.csv", {"group": "customer"})
    assert response.status_code == 400 and "Unknown group" in response.content.decode()


def test_agents_may_not_see_reports(agent_client):
    for url in ("/reports/", "/reports/queues/", "/reports/export.csv?group=conversation"):
        assert agent_client.get(url).status_code == 403
    assert agent_client.get("/api/v1/reports/summary").status_code == 403


def test_a_rebuild_keeps_every_figure(manager_client, week):
    before = manager_client.get("/api/v1/reports/summary", dates()).json()
    rollups.rebuild()
    assert manager_client.get("/api/v1/reports/summary", dates()).json() == before


def test_the_csv_streams_through_the_asgi_server(asgi_server, manager):
    import httpx
    from django.test import Client

    from tests.factories import ensure_migrated_data, make_conversation

    ensure_migrated_data()  # a transactional test: the seeded queues are made again
    made = [make_conversation("service", text=f"No signal {n}") for n in range(3)]
    client = Client()
    client.force_login(manager)
    with httpx.stream(
        "GET",
        f"{asgi_server}/reports/export.csv",
        params={**dates(), "group": "conversation"},
        cookies={"sessionid": client.cookies["sessionid"].value},
        timeout=20,
    ) as response:
        lines = list(response.iter_lines())
    assert response.status_code == 200
    assert lines[0].startswith("conversation_id,queue,")
    assert sorted(int(line.split(",")[0]) for line in lines[1:]) == sorted(c.pk for c in made)
