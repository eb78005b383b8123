"""Ingest throughput through the HTTP API, and the latency from 202 to processed at a steady 200/s.

    .venv/bin/python tests/bench/ingest.py

Against PostgreSQL + Redis + one Daphne + one Celery worker on this machine. Targets (issue 3):
at least 1,000 mentions/s accepted in batches; p95 under 2 s at a steady 200 mentions/s.
"""

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.harness import BASE_URL, add_channel, mention, percentile, scaled, sql, stack


def throughput(token: str, *, label: str, batch: int, requests: int, clients: int) -> float:
    """Mentions accepted per second, `clients` connections each posting its share of the requests.

    Bodies are encoded before the clock starts, so the figure is the server's, not the client's JSON.
    """
    shares = []
    for client_number in range(clients):
        bodies = []
        for request_number in range(requests // clients):
            first = (client_number * (requests // clients) + request_number) * batch
            items = [mention(f"{label}-{clients}-{n}", n) for n in range(first, first + batch)]
            bodies.append(json.dumps({"mentions": items} if batch > 1 else items[0]).encode())
        shares.append(bodies)

    def client_run(bodies: list[bytes]) -> int:
        accepted = 0
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        with httpx.Client(base_url=BASE_URL, timeout=60, headers=headers) as client:
            for body in bodies:
                response = client.post("/api/v1/channels/bench/mentions", content=body)
                response.raise_for_status()
                accepted += response.json()["accepted"]
        return accepted

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        accepted = sum(pool.map(client_run, shares))
    elapsed = time.perf_counter() - started
    rate = accepted / elapsed
    print(f"  {label:<14} {accepted:>6,} accepted in {elapsed:6.2f} s = {rate:8,.0f} mentions/s  ({clients} clients)")
    return rate


def steady_latency(token: str, *, rate: int, seconds: int, batch: int = 10) -> tuple[float, float, float]:
    """Post `rate` mentions a second (in requests of `batch`) for `seconds`; return the p50, p95 and
    max of 202 -> processed, in seconds."""
    accepted_at: dict[str, float] = {}
    requests = rate * seconds // batch
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    bodies = [
        json.dumps({"mentions": [mention(f"steady-{n}", n) for n in range(r * batch, (r + 1) * batch)]}).encode()
        for r in range(requests)
    ]
    start = time.time() + 0.5
    late = 0
    with httpx.Client(base_url=BASE_URL, timeout=60, headers=headers) as client:
        for number, body in enumerate(bodies):
            pause = start + number * batch / rate - time.time()
            if pause > 0:
                time.sleep(pause)
            else:
                late += 1
            response = client.post("/api/v1/channels/bench/mentions", content=body)
            response.raise_for_status()
            now = time.time()
            for item in response.json()["messages"]:
                accepted_at[item["external_id"]] = now
    sent_for = time.time() - start
    deadline = time.time() + 60
    while time.time() < deadline:
        left = sql("SELECT count(*) FROM inbox_message WHERE external_id LIKE 'steady-%%' AND processed_at IS NULL")
        if left[0][0] == 0:
            break
        time.sleep(0.5)
    rows = sql(
        "SELECT external_id, extract(epoch FROM processed_at) FROM inbox_message WHERE external_id LIKE 'steady-%%'"
    )
    latencies = [float(done) - accepted_at[external_id] for external_id, done in rows if done is not None]
    print(
        f"  sent {len(accepted_at):,} mentions in {sent_for:.1f} s ({len(accepted_at) / sent_for:.0f}/s, "
        f"{late} requests behind schedule); {len(latencies):,} processed"
    )
    return percentile(latencies, 0.5), percentile(latencies, 0.95), max(latencies)


def drain_backlog() -> None:
    """Let the worker triage what the throughput runs stored (much faster than one worker triages)."""
    started = time.monotonic()
    left = backlog = sql("SELECT count(*) FROM inbox_message WHERE processed_at IS NULL")[0][0]
    while left:
        time.sleep(1)
        left = sql("SELECT count(*) FROM inbox_message WHERE processed_at IS NULL")[0][0]
    elapsed = time.monotonic() - started
    print(
        f"One worker triaged the remaining backlog of {backlog:,} in {elapsed:.0f} s "
        f"({backlog / max(elapsed, 1e-9):,.0f} messages/s)"
    )


def main() -> None:
    with stack() as processes:
        token = add_channel()
        print("Ingest throughput through POST /api/v1/channels/<slug>/mentions:")
        throughput(token, label="warm-up", batch=100, requests=scaled(20, least=2), clients=2)
        throughput(token, label="single", batch=1, requests=scaled(1000), clients=1)
        throughput(token, label="single", batch=1, requests=scaled(2000, least=8), clients=8)
        throughput(token, label="batch of 100", batch=100, requests=scaled(100), clients=1)
        throughput(token, label="batch of 100", batch=100, requests=scaled(100, least=4), clients=4)
        throughput(token, label="batch of 1000", batch=1000, requests=scaled(20), clients=1)
        throughput(token, label="batch of 1000", batch=1000, requests=scaled(20, least=2), clients=2)
        drain_backlog()
        seconds = scaled(30, least=2)
        print(
            "Latency from 202 to triaged (the triage task ran) at a steady 200 mentions/s (batches of 10) "
            f"for {seconds} s:"
        )
        p50, p95, worst = steady_latency(token, rate=200, seconds=seconds)
        print(f"  p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {worst * 1000:.0f} ms")
        print(f"Daphne resident memory after the run: {processes['daphne'].rss_mb():.0f} MB")
        stored = sql("SELECT count(*), count(DISTINCT external_id) FROM inbox_message")[0]
        print(f"Messages stored: {stored[0]:,} ({stored[1]:,} distinct external ids)")


if __name__ == "__main__":
    main()
