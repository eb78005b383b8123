"""SIGTERM to the worker mid-batch: the batch is finished or put back, and nothing is lost or done twice.

    .venv/bin/python tests/bench/worker_sigterm.py

Against PostgreSQL + Redis + one Daphne + one Celery worker (tests/bench/harness.py). Three rounds,
each of 3,000 mentions sent at once in batches of 100 so that a backlog of triage tasks waits in Redis:

- warm: one SIGTERM while the worker is triaging (what systemd, Kubernetes or a deploy sends). The
  worker finishes the batch in hand and exits; the tasks it had not started stay in Redis.
- cold: SIGTERM twice, a tenth of a second apart: the batch in hand is cut off. acks_late leaves its
  task unacked and task_reject_on_worker_lost hands it back to the queue.
- quit: SIGQUIT, the same cut-off without the warm phase.

Each round restarts the worker and checks that every mention is stored once, triaged once (one
decision and one "triaged" event per message), and how long that took. Exits non-zero otherwise.
"""

import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.harness import add_channel, mention, post_batch, scaled, sql, stack, worker

BATCH = 100
PER_ROUND = scaled(3_000, least=BATCH)
INTO_THE_BACKLOG = scaled(200)  # triaged before the signal: the worker is well into the backlog
PROCESSED_WITHIN_SECONDS = 240


def send(token: str, prefix: str) -> None:
    batches = [
        [mention(f"{prefix}-{n}", n) for n in range(start, start + BATCH)] for start in range(0, PER_ROUND, BATCH)
    ]

    def deliver(batch: list[dict]) -> None:
        with httpx.Client(timeout=60) as client:
            response = post_batch(client, token, batch)
            response.raise_for_status()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(deliver, batches))


def triaged(prefix: str) -> int:
    return sql(
        "SELECT count(*) FROM inbox_message WHERE external_id LIKE %s AND triage_state = 'triaged'", [f"{prefix}-%"]
    )[0][0]


def wait_until_triaged(prefix: str, at_least: int, seconds: float) -> float:
    started = time.monotonic()
    while triaged(prefix) < at_least and time.monotonic() - started < seconds:
        time.sleep(0.05)
    return time.monotonic() - started


def stop(process, signals: list[int]) -> tuple[float, int]:
    """Send the signals (a tenth of a second apart) to the worker's group; seconds until it exited, and its code."""
    started = time.monotonic()
    for number, sig in enumerate(signals):
        if number:
            time.sleep(0.1)
        os.killpg(process.popen.pid, sig)
    code = process.popen.wait(timeout=120)
    process.log.close()
    return time.monotonic() - started, code


def check(prefix: str) -> bool:
    rows, distinct, untriaged = sql(
        "SELECT count(*), count(DISTINCT external_id), count(*) FILTER (WHERE triage_state <> 'triaged') "
        "FROM inbox_message WHERE external_id LIKE %s",
        [f"{prefix}-%"],
    )[0]
    decisions = sql(
        "SELECT count(*), count(DISTINCT d.message_id) FROM triage_triagedecision d "
        "JOIN inbox_message m ON m.id = d.message_id WHERE m.external_id LIKE %s",
        [f"{prefix}-%"],
    )[0]
    events = sql(
        "SELECT count(*), count(DISTINCT (e.data->>'message')) FROM inbox_event e JOIN inbox_conversation c "
        "ON c.id = e.conversation_id JOIN inbox_message m ON m.id = (e.data->>'message')::bigint "
        "WHERE e.kind = 'triaged' AND m.external_id LIKE %s",
        [f"{prefix}-%"],
    )[0]
    print(
        f"    stored {rows:,} ({distinct:,} distinct), untriaged {untriaged:,}; decisions {decisions[0]:,} "
        f"for {decisions[1]:,} messages; 'triaged' events {events[0]:,} for {events[1]:,} messages"
    )
    return rows == distinct == decisions[0] == decisions[1] == PER_ROUND and untriaged == 0


def round_(processes: dict, token: str, name: str, signals: list[int]) -> bool:
    names = " + ".join(signal.Signals(number).name for number in signals)
    print(f"{name}: {PER_ROUND:,} mentions in batches of {BATCH}, then {names}")
    send(token, name)
    wait_until_triaged(name, INTO_THE_BACKLOG, 60)
    before = triaged(name)
    seconds, code = stop(processes["worker"], signals)
    after = triaged(name)
    print(f"    signalled with {before:,} triaged; exited in {seconds:.1f} s (code {code}) with {after:,} triaged")
    processes["worker"] = worker(f"worker-after-{name}")
    took = wait_until_triaged(name, PER_ROUND, PROCESSED_WITHIN_SECONDS)
    print(f"    restarted; the rest ({PER_ROUND - after:,}) triaged {took:.1f} s later")
    return check(name)


def main() -> int:
    with stack() as processes:
        token = add_channel()
        ok = round_(processes, token, "warm", [signal.SIGTERM])
        ok &= round_(processes, token, "cold", [signal.SIGTERM, signal.SIGTERM])
        ok &= round_(processes, token, "quit", [signal.SIGQUIT])
        print("RESULT:", "every mention stored once and triaged once" if ok else "FAILED")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
