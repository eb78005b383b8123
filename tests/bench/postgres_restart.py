"""PostgreSQL restarts during ingest: requests fail cleanly, nothing is half stored, retries are stored once.

    .venv/bin/python tests/bench/postgres_restart.py

Starts a PostgreSQL cluster of its own (initdb in a temporary directory, port 55432 unless
BENCH_PG_PORT says otherwise; never the shared server), one Daphne, one Celery worker and beat against
it and the bench Redis database. Four clients send 6,000 mentions in batches of 20 and, like a
platform, send a batch again until it is answered 202. Meanwhile the cluster is restarted twice:
`pg_ctl restart -m fast` (a planned restart: sessions are ended) and `-m immediate` (what a crash
does: no shutdown checkpoint, crash recovery at start).

Checks, and prints: every answer was 202 or a JSON 503 with Retry-After (no 500, no HTML); each
batch's 202 on a retry counts either none or all of its mentions as duplicates (a batch is all or
nothing); every mention is stored once and triaged once. Exits non-zero otherwise.
"""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

PG_BIN = Path(os.environ.get("BENCH_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_PORT = int(os.environ.get("BENCH_PG_PORT", "55432"))
os.environ["BENCH_DATABASE_URL"] = f"postgres://postgres@127.0.0.1:{PG_PORT}/socialcrm_bench"

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.harness import LOGS, add_channel, mention, post_batch, scaled, sql, stack  # noqa: E402

BATCH = 20
CLIENTS = 4
TOTAL = scaled(6_000, least=BATCH * CLIENTS)
RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"
TRIAGED_WITHIN_SECONDS = 300  # a task that failed while the database was down waits for the sweep


class Cluster:
    """A throwaway PostgreSQL cluster owned by the postgres user."""

    def __init__(self):
        self.directory = Path(tempfile.mkdtemp(prefix="socialcrm-bench-pg-"))
        shutil.chown(self.directory, "postgres", "postgres")
        self.data = self.directory / "data"
        self.log = LOGS / "postgres.log"
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log.touch()
        shutil.chown(self.log, "postgres", "postgres")
        self._as_postgres(PG_BIN / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync")

    def _as_postgres(self, *command) -> None:
        subprocess.run(  # noqa: S603 - fixed argv
            [RUNUSER, "-u", "postgres", "--", *map(str, command)], check=True, capture_output=True, cwd="/"
        )

    def pg_ctl(self, action: str, *extra: str) -> float:
        """Run pg_ctl <action> and wait for it; returns the seconds it took."""
        options = f"-p {PG_PORT} -c listen_addresses=127.0.0.1 -k {self.directory} -c max_connections=100"
        started = time.monotonic()
        self._as_postgres(PG_BIN / "pg_ctl", action, "-D", self.data, "-l", self.log, "-w", "-o", options, *extra)
        return time.monotonic() - started

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.directory, ignore_errors=True)


def main() -> int:
    cluster = Cluster()
    cluster.pg_ctl("start")
    try:
        return run(cluster)
    finally:
        cluster.remove()


def run(cluster: Cluster) -> int:
    with stack(with_beat=True):
        token = add_channel()
        batches = [[mention(f"pg-{n}", n) for n in range(start, start + BATCH)] for start in range(0, TOTAL, BATCH)]
        answers: Counter = Counter()
        problems: list[str] = []
        retried_duplicates: Counter = Counter()  # on a retried batch's 202: how many it already held
        last_202 = [0.0]
        lock = threading.Lock()
        sending = threading.Event()
        sending.set()

        def deliver(batch: list[dict]) -> None:
            attempts = 0
            with httpx.Client(timeout=60) as client:
                while True:
                    attempts += 1
                    try:
                        response = post_batch(client, token, batch)
                    except httpx.HTTPError as failure:
                        with lock:
                            answers[type(failure).__name__] += 1
                        time.sleep(0.2)
                        continue
                    with lock:
                        answers[response.status_code] += 1
                    if response.status_code == 202:
                        if attempts > 1:
                            with lock:
                                retried_duplicates[response.json()["duplicates"]] += 1
                        with lock:
                            last_202[0] = time.monotonic()
                        return
                    clean = (
                        response.status_code == 503
                        and "Retry-After" in response.headers
                        and response.headers["content-type"] == "application/json"
                    )
                    if not clean:
                        with lock:
                            problems.append(f"{response.status_code} {response.headers.get('content-type')}")
                    time.sleep(0.2)  # a platform would wait Retry-After; shorter here, to press the recovery

        def restarts() -> None:
            for mode in ("fast", "immediate"):
                time.sleep(4.0)
                took = cluster.pg_ctl("restart", "-m", mode)
                back = time.monotonic()
                print(f"  pg_ctl restart -m {mode}: the server was back in {took:.1f} s")
                while time.monotonic() - back < 30 and last_202[0] < back and sending.is_set():
                    time.sleep(0.05)
                if last_202[0] >= back:
                    print(f"    first 202 {last_202[0] - back:.2f} s after it was back")
                else:
                    print("    every batch was answered before it went down (a run too small to press it)")

        started = time.monotonic()
        chaos = threading.Thread(target=restarts)
        chaos.start()
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(deliver, batches))
        sending.clear()
        chaos.join()
        print(f"  {len(batches)} batches ({TOTAL:,} mentions) answered 202 in {time.monotonic() - started:.1f} s")
        print(f"  answers: {json.dumps({str(k): v for k, v in sorted(answers.items(), key=str)})}")
        print(f"  retried batches by duplicates already held on their 202: {dict(retried_duplicates)}")

        waited = time.monotonic()
        while time.monotonic() - waited < TRIAGED_WITHIN_SECONDS:
            if sql("SELECT count(*) FROM inbox_message WHERE triage_state <> 'triaged'")[0][0] == 0:
                break
            time.sleep(1)
        rows, distinct, untriaged = sql(
            "SELECT count(*), count(DISTINCT external_id), count(*) FILTER (WHERE triage_state <> 'triaged') "
            "FROM inbox_message"
        )[0]
        decisions = sql("SELECT count(*), count(DISTINCT message_id) FROM triage_triagedecision")[0]
        print(
            f"  stored {rows:,} ({distinct:,} distinct), untriaged {untriaged:,}, decisions {decisions[0]:,} "
            f"for {decisions[1]:,} messages; all triaged {time.monotonic() - waited:.0f} s after the last 202"
        )
        partial = [held for held in retried_duplicates if held not in (0, BATCH)]
        for problem in problems[:10]:
            print("  PROBLEM:", problem)
        ok = (
            not problems
            and not partial
            and rows == distinct == decisions[0] == decisions[1] == TOTAL
            and untriaged == 0
            and set(answers) <= {202, 503}
        )
        print("RESULT:", "clean refusals, nothing half stored, every mention stored once" if ok else "FAILED")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
