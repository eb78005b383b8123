"""Each benchmark, run at a hundredth of its size, so that none drifts from the schema or the API.

The figures of a tiny run mean nothing and are not checked; what is checked is that the script runs
to the end against the code as it is now (its SQL, its requests, its commands) and, where it judges
its own outcome (nothing lost, stored once), that the judgement holds. Each run gets a database and a
Redis database of its own, never the suite's, and ports no developer's full run uses.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENT = {
    "BENCH_SCALE": "0.01",
    "BENCH_DATABASE_URL": "postgres://postgres@127.0.0.1:5432/socialcrm_bench_ci",
    "BENCH_REDIS_URL": "redis://127.0.0.1:6379/12",
    "BENCH_PORT": "8785",
    "BENCH_PG_PORT": "55442",
}

# script, its arguments at tiny size, and a line its output ends with when the run went through
BENCHES = [
    ("ingest.py", [], "distinct external ids)"),
    ("triage.py", [], "the 2 s target"),
    ("inbox_pages.py", ["--sizes", "2000,3000", "--requests", "3"], "the whole run"),
    ("live.py", ["--seconds", "2", "--rate", "10", "--sockets", "3"], "server memory"),
    ("nothing_lost.py", [], "RESULT: every mention stored once and processed"),
    ("worker_sigterm.py", [], "RESULT: every mention stored once and triaged once"),
    ("postgres_restart.py", [], "RESULT: clean refusals, nothing half stored, every mention stored once"),
    ("sla_alerts.py", [], "RESULT: every breach told once, on time"),
    ("reports.py", ["--requests", "2"], "The whole run took"),
]


def test_every_benchmark_is_run_here():
    on_disk = {path.name for path in (ROOT / "tests" / "bench").glob("*.py")}
    assert on_disk - {"harness.py", "ws_floor.py", "test_run.py"} == {script for script, _, _ in BENCHES}


@pytest.mark.parametrize(("script", "arguments", "last_words"), BENCHES, ids=[script for script, _, _ in BENCHES])
def test_the_benchmark_runs_at_a_tiny_scale(script, arguments, last_words):
    environment = {**os.environ, **ENVIRONMENT}
    for name in ("DATABASE_URL", "REDIS_URL"):  # the suite's own: the bench must not fall back to them
        environment.pop(name, None)
    run = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, f"tests/bench/{script}", *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, f"tests/bench/{script} failed:\n{output[-4000:]}"
    assert last_words in run.stdout, f"tests/bench/{script} did not run to the end:\n{output[-4000:]}"
