"""Start the real stack for a benchmark: a fresh PostgreSQL database, Redis, one Daphne, one worker."""

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import redis

ROOT = Path(__file__).resolve().parents[2]
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/socialcrm_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
PORT = int(os.environ.get("BENCH_PORT", "8765"))
# The share of the full run's work to do: 1 for figures; CI runs each bench at a hundredth of it, to
# prove the scripts still run against the schema and the API as they are now (tests/bench/test_run.py).
SCALE = float(os.environ.get("BENCH_SCALE", "1"))
BASE_URL = f"http://127.0.0.1:{PORT}"
LOGS = ROOT / "var" / "bench"


def environment() -> dict:
    return {**os.environ, "DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL, "PORT": str(PORT), "DEBUG": "false"}


def scaled(count: int, *, least: int = 1) -> int:
    """`count` at BENCH_SCALE, and at least `least`."""
    return max(least, round(count * SCALE))


def manage(*args: str) -> str:
    result = subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment(), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def fresh_database() -> None:
    """Drop and recreate the bench database, migrate it, and empty the bench Redis database."""
    parts = urlsplit(DATABASE_URL)
    name = parts.path.lstrip("/")
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    redis.Redis.from_url(REDIS_URL).flushdb()
    manage("migrate", "--noinput", "-v", "0")


def add_channel(slug: str = "bench") -> str:
    """A webhook channel with no practical rate limit; returns its token."""
    token = json.loads(manage("add_channel", "--kind", "webhook", "--name", "Bench", "--slug", slug))["token"]
    sql("UPDATE inbox_channel SET rate_limit_per_minute = 1000000000 WHERE slug = %s", [slug])
    return token


def post_batch(client: httpx.Client, token: str, batch: list[dict]) -> httpx.Response:
    """POST a batch of mentions to the bench channel, as a platform would."""
    return client.post(
        f"{BASE_URL}/api/v1/channels/bench/mentions",
        json={"mentions": batch},
        headers={"Authorization": f"Bearer {token}"},
    )


def sql(statement: str, params=None) -> list[tuple]:
    with psycopg.connect(DATABASE_URL, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


class Process:
    """A child process in its own process group, logged to var/bench/<name>.log."""

    def __init__(self, name: str, command: list[str]):
        LOGS.mkdir(parents=True, exist_ok=True)
        self.name, self.command = name, command
        self.log = (LOGS / f"{name}.log").open("a")
        self.popen = subprocess.Popen(  # noqa: S603 - fixed argv
            command, cwd=ROOT, env=environment(), stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)
            self.popen.wait(timeout=30)

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()

    def rss_mb(self) -> float:
        """Resident memory of the process, in MB."""
        for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0


def daphne() -> Process:
    process = Process(
        "daphne", [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(PORT), "socialcrm.asgi:application"]
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{BASE_URL}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("Daphne did not answer /healthz within 30 s; see var/bench/daphne.log")


def worker(name: str = "worker") -> Process:
    return Process(
        name,
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "socialcrm",
            "worker",
            "--concurrency",
            "1",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
    )


def beat() -> Process:
    return Process("beat", [sys.executable, "-m", "celery", "-A", "socialcrm", "beat", "--loglevel", "WARNING"])


@contextmanager
def stack(*, with_beat: bool = False):
    fresh_database()
    processes = {"daphne": daphne(), "worker": worker()}
    if with_beat:
        processes["beat"] = beat()
    try:
        yield processes
    finally:
        for process in processes.values():
            process.stop()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def mention(external_id: str, number: int) -> dict:
    return {
        "external_id": external_id,
        "text": f"Bench mention {number}: no signal in Leeds since this morning, please help",
        "author": {
            "external_id": f"bench-author-{number % 2000}",
            "handle": f"@bench{number % 2000}",
            "followers": number % 5000,
        },
    }
