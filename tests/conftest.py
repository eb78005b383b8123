import contextlib
import os
import re
from typing import NamedTuple

import pytest
from django.contrib.auth import get_user_model

from socialcrm.celery import app as celery_app
from tests.factories import PASSWORD, make_user
from tests.helpers import add_channel, add_triage_token


@pytest.fixture(autouse=True, scope="session")
def tasks_run_in_process():
    """Tests run Celery tasks in-process even with REDIS_URL set; the worker has its own tests."""
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Test users' passwords are hashed cheaply; the real hasher's cost is the point in production only."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def empty_cache():
    """Rate-limit counters and the like start at zero in each test (tests use a Redis DB of their own)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def one_minute(monkeypatch):
    """Per-minute allowances counted within one minute: a test that crossed a minute's end would
    start a new allowance halfway and not see its limit reached."""
    import types

    import socialcrm.api

    middle_of_a_minute = 1_800_000_030.0
    monkeypatch.setattr(socialcrm.api, "time", types.SimpleNamespace(time=lambda: middle_of_a_minute))


@pytest.fixture
def admin_client(client, db):
    """Signed in to admin as a superuser with the admin role (pytest-django's own has no role)."""
    admin = make_user("ada", role="admin")
    get_user_model().objects.filter(pk=admin.pk).update(is_superuser=True)
    client.login(username="ada", password=PASSWORD)
    return client


@pytest.fixture
def agent_in_service_queue(db):
    return make_user("sam", role="agent", queues=("service",))


@pytest.fixture
def manager(db):
    return make_user("maria", role="manager")


@pytest.fixture
def agent_client(client, agent_in_service_queue):
    client.force_login(agent_in_service_queue)
    return client


@pytest.fixture
def asgi_server(transactional_db):
    """Daphne serving the app (WebSockets included) on the test database, in a process of its own.

    It needs PostgreSQL and Redis: the test's own process publishes events (a colleague's action)
    that the server's sockets must receive, through the Redis channel layer. CI runs it.
    """
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    from django.conf import settings
    from django.db import connection

    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        pytest.skip("the live browser test needs PostgreSQL and Redis (CI runs it)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "false", "ALLOWED_HOSTS": "127.0.0.1,localhost"}
    root = Path(__file__).resolve().parents[1]
    server = subprocess.Popen(  # noqa: S603 - our own app under Daphne
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "socialcrm.asgi:application"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(root / "test-results" / "daphne.log").open("w") if (root / "test-results").is_dir() else None,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    else:
        server.kill()
        pytest.fail("daphne did not start (its log: test-results/daphne.log)")
    # A worker triages what arrives, and triage publishes the row. It loads the models from the
    # database, which earlier tests may have emptied: the seed versions go back first.
    from triage.learning import ensure_seed_versions

    ensure_seed_versions()
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "socialcrm", "worker", "--pool", "solo", "--loglevel", "INFO"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(root / "test-results" / "worker.log").open("w") if (root / "test-results").is_dir() else None,
    )
    yield f"http://127.0.0.1:{port}"
    for process in (server, worker):
        process.terminate()
    for process in (server, worker):
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:  # a shutdown that hangs is a bug to see, but not to leave running
            process.kill()
            raise


class Push(NamedTuple):
    """One event as a browser would read it: its envelope's attributes and the HTML after it."""

    stream: str
    kind: str  # row, gone, counts, mention; or regroup / close for an order without content
    conversation: int | None
    seq: int | None
    attrs: dict[str, str]
    content: str


class Pushes(list[Push]):
    """What inbox.live sent, one Push per event, in the order it was sent."""

    _ENVELOPE = re.compile(r'<template data-stream="([^"]+)" data-seq="(\d+)"([^>]*)></template>')
    _ATTR = re.compile(r' data-([a-z]+)="([^"]*)"')
    _COUNT = re.compile(r'<(?:span|a) id="(count-[a-z-]+)"[^>]*>(\d+)<')

    def add(self, group: str, message: dict) -> None:
        if message["type"] != "live.event":  # a regroup or close order: no content
            self.append(Push(group, message["type"].removeprefix("live."), None, None, {}, ""))
            return
        html = message["html"]
        envelopes = list(self._ENVELOPE.finditer(html))
        assert envelopes and envelopes[0].start() == 0, "a frame is nothing but events"
        for envelope, after in zip(envelopes, [*envelopes[1:], None], strict=True):
            stream, seq, rest = envelope.groups()
            assert stream == group, "an event names the stream it was sent to"
            attrs = dict(self._ATTR.findall(rest))
            content = html[envelope.end() : after.start() if after else len(html)]
            pk = int(attrs["conversation"]) if "conversation" in attrs else None
            self.append(Push(group, attrs["live"], pk, int(seq), attrs, content))

    def of(self, conversation_id: int) -> set[tuple[str, str]]:
        """(stream, kind) of every event about one conversation."""
        return {(push.stream, push.kind) for push in self if push.conversation == conversation_id}

    def to(self, stream: str) -> list[Push]:
        return [push for push in self if push.stream == stream]

    def counts(self, stream: str) -> dict[str, int]:
        """The queue-list counts a stream was sent, by element id (count-<queue>-<kind>), the last of each."""
        return {
            name: int(value)
            for push in self.to(stream)
            if push.kind == "counts"
            for name, value in self._COUNT.findall(push.content)
        }


@pytest.fixture
def capture_pushes(monkeypatch, django_capture_on_commit_callbacks):
    """`with capture_pushes() as pushes:` runs the block, commits it (the on-commit callbacks run)
    and fills `pushes` with what inbox.live sent, without sockets or waiting: the way to test that a
    verb publishes (as Zulip's capture_send_event_calls). A few tests in test_live.py keep the real
    consumer."""
    from inbox import live

    current: list[Pushes] = []

    def record(sends: list[tuple[str, dict]]) -> bool:
        for group, message in sends:
            if current:
                current[-1].add(group, message)
        return True

    monkeypatch.setattr(live, "_send", record)

    @contextlib.contextmanager
    def capture():
        live._pending.state = None  # what the test's own setup queued (its transaction never commits)
        current.append(Pushes())
        with django_capture_on_commit_callbacks(execute=True):
            yield current[-1]

    return capture


@pytest.fixture
def ingest_token(db) -> str:
    """The ingest token of a webhook channel "hook", made as an admin makes one."""
    return add_channel()["token"]


@pytest.fixture
def triage_token(db) -> str:
    """A token of the triage scope, made as an admin makes one."""
    return add_triage_token()
