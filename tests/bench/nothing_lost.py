"""Nothing lost: kill -9 the Celery worker while 10,000 mentions arrive, restart it, and check that
each mention is stored exactly once and each ends up processed.

    .venv/bin/python tests/bench/nothing_lost.py

Against PostgreSQL + Redis + one Daphne + one worker + beat (whose sweep re-enqueues messages whose
task was lost). Exits non-zero if anything is missing, doubled or left unprocessed.
"""

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.harness import add_channel, mention, post_batch, scaled, sql, stack, worker

BATCH = 50
CLIENTS = 4
TOTAL = scaled(10_000, least=BATCH * CLIENTS)
PROCESSED_WITHIN_SECONDS = 300  # the sweep re-enqueues after 2 minutes; beat looks each minute


def main() -> int:
    with stack(with_beat=True) as processes:
        token = add_channel()
        batches = [[mention(f"lost-{n}", n) for n in range(start, start + BATCH)] for start in range(0, TOTAL, BATCH)]
        # Every batch twice, as a platform retrying after a timeout would.
        deliveries = batches + batches[::7]

        def deliver(batch: list[dict]) -> int:
            with httpx.Client(timeout=60) as client:
                response = post_batch(client, token, batch)
                response.raise_for_status()
                return response.json()["accepted"]

        def killer() -> None:
            time.sleep(2.0)
            print(f"  kill -9 the worker (pid {processes['worker'].popen.pid}) mid-ingest")
            processes["worker"].kill()
            time.sleep(3.0)
            print("  restarting the worker")
            processes["worker"] = worker("worker-restarted")

        started = time.monotonic()
        chaos = threading.Thread(target=killer)
        chaos.start()
        with ThreadPoolExecutor(CLIENTS) as pool:
            accepted = sum(pool.map(deliver, deliveries))
        chaos.join()
        elapsed = time.monotonic() - started
        print(f"  {len(deliveries)} deliveries ({TOTAL:,} mentions, some twice) answered 202 in {elapsed:.1f} s")

        waited = time.monotonic()
        while time.monotonic() - waited < PROCESSED_WITHIN_SECONDS:
            left = sql("SELECT count(*) FROM inbox_message WHERE triage_state = 'queued'")[0][0]
            if left == 0:
                break
            time.sleep(2)
        rows, distinct, unprocessed = sql(
            "SELECT count(*), count(DISTINCT external_id), count(*) FILTER (WHERE processed_at IS NULL) "
            "FROM inbox_message"
        )[0]
        print(f"  accepted {accepted:,}; stored {rows:,} rows, {distinct:,} distinct; unprocessed {unprocessed:,}")
        print(f"  all processed {time.monotonic() - waited:.0f} s after the last 202")
        ok = accepted == rows == distinct == TOTAL and unprocessed == 0
        print("RESULT:", "every mention stored once and processed" if ok else "FAILED")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
