"""Reports at scale: 10,000,000 messages in 2,000,000 conversations over two years, on PostgreSQL.

    .venv/bin/python tests/bench/reports.py

Targets (server time, in-process through Django's test client as bench-inbox measures it): the 90-day
overview and by-agent pages p95 <= 500 ms; a two-year daily CSV in <= 2 s; the per-conversation CSV of
1,000,000 conversations streams in flat memory (the peak RSS of a process exporting 1,000,000 rows
against one exporting 10,000); the inbox list sorted by time to breach p95 <= 50 ms.

The data is bench-inbox's builder (INSERT ... SELECT over generate_series, deterministic), spread over
two years instead of one, with every reply's wait recorded as the reply service records it; then the
rollups are built by `manage.py rebuild_report_rollups`, the command an operator runs, and timed.
BENCH_SCALE scales the number of conversations.
"""

import argparse
import os
import resource
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/socialcrm_bench_reports")
os.environ.setdefault("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")

from tests.bench import harness, inbox_pages  # noqa: E402
from tests.bench.inbox_pages import CHUNK, CONVERSATIONS, CUSTOMERS, FUNCTIONS, IDENTITIES, MESSAGES  # noqa: E402

CONVERSATIONS_AT_FULL_SIZE = 2_000_000
REQUESTS = 30
WARM_UP = 3
PAGE_TARGET_MS, DAILY_CSV_TARGET_S, LIST_TARGET_MS = 500, 2.0, 50
SORTED_IN_PLACE = {**inbox_pages.HTMX_LIST, "HX-Current-URL": "http://localhost/inbox/?queue=service"}

# Two years of history: resolved conversations opened up to 730 days ago, not 365.
TWO_YEARS = CONVERSATIONS.replace("bench_unit(n, 5) * interval '365 days'", "bench_unit(n, 5) * interval '730 days'")
assert TWO_YEARS != CONVERSATIONS, "bench-inbox's builder changed: spread its history over two years here again"

# Each reply ends the wait of the customer's message before it (message ids are n * 10 + i, in turn),
# due an hour after it as the seeded policies' first response is: the fields the reply service sets.
ANSWERED = """
UPDATE inbox_message m
SET answered_wait_since = p.posted_at,
    answered_due_at = p.posted_at + interval '60 minutes',
    answered_business_seconds = extract(epoch FROM m.posted_at - p.posted_at)::integer
FROM inbox_message p
WHERE p.id = m.id - 1 AND m.direction = 'out' AND m.conversation_id BETWEEN %(low)s AND %(high)s
"""


def build(cast, total: int) -> float:
    from socialcrm.progress import ProgressBar

    started = time.monotonic()
    bar = ProgressBar(total * 5, label=f"Building {total * 5:>10,} messages")
    with psycopg.connect(harness.DATABASE_URL) as connection:
        connection.execute("SET session_replication_role = replica")  # as bench-inbox: rows consistent by build
        connection.execute("SET synchronous_commit = off")
        connection.execute(FUNCTIONS)
        for statement in (CUSTOMERS, IDENTITIES):
            connection.execute(statement, {**cast.params(), "low": 1, "high": total // 2})
        connection.commit()
        for low in range(1, total + 1, CHUNK):
            params = {**cast.params(), "low": low, "high": min(low + CHUNK - 1, total), "customers": total // 2}
            for statement in (TWO_YEARS, MESSAGES, ANSWERED):
                connection.execute(statement, params)
            connection.commit()
            bar.update(params["high"] * 5)
        for table in ("customers_customer", "customers_identity", "inbox_conversation", "inbox_message"):
            connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"  # noqa: S608
            )
        connection.commit()
    bar.finish()
    inbox_pages.check_integrity()
    harness.sql("VACUUM (ANALYZE)")
    return time.monotonic() - started


def rebuild_rollups() -> float:
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "manage.py", "rebuild_report_rollups"], cwd=ROOT, env=harness.environment(), check=True
    )
    harness.sql("VACUUM (ANALYZE)")
    return time.monotonic() - started


def timed_pages(client, kinds: dict[str, tuple[str, dict]], requests: int) -> dict[str, list[float]]:
    results = {}
    for kind, (path, headers) in kinds.items():
        durations = []
        for number in range(WARM_UP + requests):
            started = time.perf_counter()
            response = client.get(path, headers=headers)
            if hasattr(response, "streaming_content"):
                for _ in response.streaming_content:
                    pass
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise SystemExit(f"GET {path} answered {response.status_code}: {response.content[:300]!r}")
            if number >= WARM_UP:
                durations.append(elapsed)
        results[kind] = durations
    return results


EXPORT = """
import resource, sys, time
from django.contrib.auth import get_user_model
from django.test import Client
client = Client(SERVER_NAME="localhost")
client.force_login(get_user_model().objects.get(username="bench-manager"))
started, rows = time.monotonic(), 0
response = client.get("/reports/export.csv", {{"from": "{first}", "to": "{last}", "group": "conversation"}})
for chunk in response.streaming_content:
    rows += chunk.count(b"\\n")
print(rows - 1, round(time.monotonic() - started, 1), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def export_in_a_process(first, last) -> tuple[int, float, int]:
    """Rows, seconds and peak RSS (MB) of a fresh process that streams the per-conversation CSV."""
    run = subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", "shell", "-c", EXPORT.format(first=first, last=last)],
        cwd=ROOT,
        env=harness.environment(),
        capture_output=True,
        text=True,
        check=True,
    )
    rows, seconds, peak = run.stdout.split()[-3:]
    return int(rows), float(seconds), int(peak)


def window_with(rows: int) -> tuple:
    """The latest days whose conversations number at least `rows` (all of them if there are fewer)."""
    from django.db.models import Count
    from django.db.models.functions import TruncDate

    from inbox.models import Conversation

    days = list(
        Conversation.objects.annotate(day=TruncDate("created_at"))
        .values("day")
        .order_by("-day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    seen = 0
    for day, count in days:
        seen += count
        if seen >= rows:
            return day, days[0][0]
    return days[-1][0], days[0][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-build", action="store_true", help="Measure the bench database as it stands.")
    parser.add_argument("--requests", type=int, default=REQUESTS, help="Timed requests per page.")
    arguments = parser.parse_args()
    inbox_pages.setup_django()
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    started = time.monotonic()
    total = harness.scaled(CONVERSATIONS_AT_FULL_SIZE, least=2_000)
    if not arguments.skip_build:
        harness.fresh_database()
        building = build(inbox_pages.make_cast(), total)
        print(f"Built {total * 5:,} messages in {total:,} conversations in {building:.0f} s")
        rolling = rebuild_rollups()
        counts = harness.sql(
            "SELECT (SELECT count(*) FROM reports_tally), (SELECT count(*) FROM reports_agenttally),"
            " (SELECT count(*) FROM reports_durations)"
        )[0]
        print(
            f"Rebuilt the rollups in {rolling:.0f} s ({total / rolling:,.0f} conversations/s): {counts[0]:,} tally,"
            f" {counts[1]:,} agent, {counts[2]:,} duration rows"
        )
    today = timezone.now().date()
    ninety = {"from": (today - timedelta(days=90)).isoformat(), "to": (today - timedelta(days=1)).isoformat()}
    two_years = {"from": (today - timedelta(days=731)).isoformat(), "to": today.isoformat()}
    manager = get_user_model().objects.get(username="bench-manager")
    client = Client(SERVER_NAME="localhost")
    client.force_login(manager)
    query = "&".join(f"{k}={v}" for k, v in ninety.items())
    daily = "&".join(f"{k}={v}" for k, v in two_years.items())
    pages = timed_pages(
        client,
        {
            "overview, 90 days": (f"/reports/?{query}", {}),
            "by agent, 90 days": (f"/reports/agents/?{query}", {}),
            "by queue, 90 days": (f"/reports/queues/?{query}", {}),
            "overview, 90 days by week": (f"/reports/?{query}&bucket=week", {}),
            "summary API, 90 days": (f"/api/v1/reports/summary?{query}", {}),
            # As the browser asks when the service list it shows is sorted: the nav stays, the rows change.
            "inbox by time to breach": ("/inbox/?queue=service&sort=breach", SORTED_IN_PLACE),
            # Arriving from another queue: the nav comes too, with every queue's counts.
            "inbox by breach + queue nav": ("/inbox/?queue=service&sort=breach", inbox_pages.HTMX_LIST),
        },
        arguments.requests,
    )
    csv_runs = timed_pages(client, {"daily CSV, 2 years": (f"/reports/export.csv?{daily}&group=day", {})}, 5)
    print(f"\nServer time in ms, {arguments.requests} requests each ({total * 5:,} messages):")
    print(f"  {'request':<28} {'p50':>7} {'p95':>7} {'max':>7}")
    for kind, durations in {**pages, **csv_runs}.items():
        print(
            f"  {kind:<28} {harness.percentile(durations, 0.5):7.1f} {harness.percentile(durations, 0.95):7.1f}"
            f" {max(durations):7.1f}"
        )
    large_first, large_last = window_with(1_000_000)
    small_first, small_last = window_with(10_000)
    small = export_in_a_process(small_first, small_last)
    large = export_in_a_process(large_first, large_last)
    print("\nPer-conversation CSV in a fresh process (rows, seconds, peak RSS):")
    print(f"  {small[0]:>9,} rows  {small[1]:6.1f} s  {small[2]:5d} MB   ({small_first} to {small_last})")
    print(f"  {large[0]:>9,} rows  {large[1]:6.1f} s  {large[2]:5d} MB   ({large_first} to {large_last})")

    def verdict(name: str, value: float, target: float, unit: str) -> None:
        print(
            f"  {name:<34} {value:8.1f} {unit:<3} target <= {target:g} {unit}:"
            f" {'meets' if value <= target else 'MISSES'}"
        )

    print("\nTargets:")
    verdict("overview, 90 days, p95", harness.percentile(pages["overview, 90 days"], 0.95), PAGE_TARGET_MS, "ms")
    verdict("by agent, 90 days, p95", harness.percentile(pages["by agent, 90 days"], 0.95), PAGE_TARGET_MS, "ms")
    verdict(
        "daily CSV, 2 years, p95",
        harness.percentile(csv_runs["daily CSV, 2 years"], 0.95) / 1000,
        DAILY_CSV_TARGET_S,
        "s",
    )
    verdict(
        "inbox by time to breach, p95", harness.percentile(pages["inbox by time to breach"], 0.95), LIST_TARGET_MS, "ms"
    )
    growth = large[2] - small[2]
    print(
        f"  per-conversation CSV peak RSS {large[2]} MB for {large[0]:,} rows"
        f" vs {small[2]} MB for {small[0]:,}: +{growth} MB"
    )
    print(
        f"\nThe whole run took {time.monotonic() - started:.0f} s; this process's peak RSS"
        f" {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB."
    )


if __name__ == "__main__":
    main()
