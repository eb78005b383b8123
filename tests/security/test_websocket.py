"""Attacks on the live socket: a page of another origin riding the cookie, and frames meant to break it."""

import json
import os
import socket as sockets
import subprocess
import sys
import time
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client

from socialcrm.asgi import application
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def session(db):
    """The session cookie of a signed-in agent: what a victim's browser holds."""
    client = Client()
    client.force_login(make_user("sam", role="agent", queues=("service",)))
    return client.cookies["sessionid"].value


def handshake(session: str, *, host: str, origin: str | None, extra: tuple = ()) -> bool:
    """Whether the socket is accepted for this Host and Origin, with the victim's cookie."""
    headers = [(b"host", host.encode()), (b"cookie", f"sessionid={session}".encode()), *extra]
    if origin is not None:
        headers.append((b"origin", origin.encode()))

    async def attempt():
        communicator = WebsocketCommunicator(application, "/ws/inbox/", headers=headers)
        accepted, _ = await communicator.connect()
        await communicator.disconnect()
        return accepted

    return async_to_sync(attempt)()


# --- Origin: only a page of the site itself may open the socket (finding 6) ---


def test_socket_from_the_sites_own_page_is_accepted(session):
    assert handshake(session, host="localhost:8000", origin="http://localhost:8000")


def test_socket_from_same_host_other_port_is_refused(session):
    assert not handshake(session, host="localhost:8000", origin="http://localhost:9999")


def test_socket_from_same_host_other_scheme_is_refused(session):
    assert not handshake(session, host="localhost:8000", origin="https://localhost:8000")


def test_socket_from_same_host_default_port_is_refused_when_the_site_is_on_another(session):
    assert not handshake(session, host="localhost:8000", origin="http://localhost")


def test_socket_without_an_origin_is_refused(session):
    assert not handshake(session, host="localhost:8000", origin=None)


def test_socket_with_a_second_origin_header_is_refused(session):
    evil = ((b"origin", b"http://evil.example"),)
    assert not handshake(session, host="localhost:8000", origin="http://localhost:8000", extra=evil)


@pytest.mark.parametrize(
    "origin",
    [
        "null",  # a sandboxed frame, a file:// page
        "http://localhost:8000.evil.example",
        "http://evil.example/http://localhost:8000",
        "http://localhost:99999",
        "http://user@localhost:8000",
        "http://localhost:8000/inbox/",
        "ws://localhost:8000",
        "http://localhost:8000\x00",
        "",
    ],
)
def test_socket_from_a_lookalike_or_malformed_origin_is_refused(session, origin, caplog):
    assert not handshake(session, host="localhost:8000", origin=origin)
    assert [r.getMessage() for r in caplog.records if r.name == "socialcrm.origins"] == [
        f"WebSocket refused: origin {origin!r} is not this site's (host 'localhost:8000')"
    ]


def test_socket_from_a_rebound_dns_name_is_refused(session):
    """evil.example made to resolve to our address: Host and Origin agree, but the host is not ours."""
    assert not handshake(session, host="evil.example:8000", origin="http://evil.example:8000")


def test_socket_from_a_site_origin_is_accepted_through_a_proxy_that_rewrites_host(session, settings):
    settings.SITE_ORIGINS = ["https://crm.example.com"]

    assert handshake(session, host="127.0.0.1:8000", origin="https://crm.example.com")
    assert not handshake(session, host="127.0.0.1:8000", origin="https://crm.example.com:8443")
    assert not handshake(session, host="127.0.0.1:8000", origin="http://crm.example.com")


def test_socket_from_the_plain_http_page_is_refused_behind_tls(session, settings):
    """Behind a TLS proxy the page is https; the same host over http is another origin."""
    settings.ALLOWED_HOSTS = ["crm.example.com"]
    settings.SITE_ORIGINS = []
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    through_tls = ((b"x-forwarded-proto", b"https"),)

    assert handshake(session, host="crm.example.com", origin="https://crm.example.com", extra=through_tls)
    assert not handshake(session, host="crm.example.com", origin="http://crm.example.com", extra=through_tls)
    assert not handshake(session, host="crm.example.com", origin="https://crm.example.com")  # proxy said nothing


# --- Bad frames: closed with the application's own code, cleanly, under the real server (finding 7) ---


@pytest.fixture(scope="module")
def daphne(django_db_setup, tmp_path_factory):
    """Daphne serving the app on the test database: the server library is what refused 1003/1007/1009.

    Yields (ws:// base URL, path of its stderr). Sessions live in the database, so it needs one the
    two processes share: PostgreSQL (CI runs it).
    """
    from django.conf import settings

    if connection.vendor != "postgresql":
        pytest.skip("a second process sharing the test database needs PostgreSQL (CI runs it)")
    with sockets.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    db = settings.DATABASES["default"]
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # nothing here crosses processes
    env |= {"DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}", "DEBUG": "false"}
    env |= {"ALLOWED_HOSTS": "127.0.0.1"}
    log = tmp_path_factory.mktemp("daphne") / "stderr.log"
    with log.open("w") as stderr:
        server = subprocess.Popen(  # noqa: S603 - our own app under Daphne
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "socialcrm.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    deadline = time.monotonic() + 30
    while sockets.socket().connect_ex(("127.0.0.1", port)) != 0:
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            pytest.fail(f"daphne did not start: {log.read_text()}")
        time.sleep(0.2)
    yield f"ws://127.0.0.1:{port}", log
    server.terminate()
    server.wait(timeout=20)


def close_code_for(daphne, frames: list[str | bytes], session: str | None) -> int:
    """Open the socket as the site's own page would, send these frames, and return the close code received."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    url, _ = daphne
    cookie = {"Cookie": f"sessionid={session}"} if session else {}
    with connect(f"{url}/ws/inbox/", origin=url.replace("ws://", "http://"), additional_headers=cookie) as ws:
        try:
            if session:
                assert 'data-live="hello"' in ws.recv(timeout=10)
            for frame in frames:
                ws.send(frame)
            while True:
                ws.recv(timeout=10)
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, "the server dropped the connection without a close frame"
            return closed.rcvd.code


@pytest.fixture
def server_log(daphne):
    """What Daphne writes to stderr during the test (read after a moment for the last lines to land)."""
    _, log = daphne
    start = log.stat().st_size

    def read() -> list[str]:
        time.sleep(0.3)
        with log.open() as handle:
            handle.seek(start)
            return handle.read().splitlines()

    return read


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"\x00\x01", 4003),
        ("not json", 4007),
        ("[" * 2000, 4007),  # under the size limit, but deeper than json.loads can recurse
        ("x" * 100_000, 4009),
        (json.dumps({"type": "viewing", "conversation": "1; DROP"}), 4007),
        (json.dumps({"type": "live.close"}), 4400),
    ],
    ids=["binary", "not-json", "deeply-nested", "oversize", "bad-id", "unknown-type"],
)
def test_bad_frame_closes_with_an_application_code_and_one_log_line(daphne, server_log, session, frame, code):
    assert close_code_for(daphne, [frame, frame], session) == code

    lines = server_log()
    assert not [line for line in lines if "Traceback" in line or " ERROR " in line], lines
    (logged,) = [line for line in lines if "live socket" in line]  # once, though the frame came twice
    user_id = Session.objects.get(session_key=session).get_decoded()["_auth_user_id"]
    assert f"live socket of user {user_id} closed:" in logged and f"({code})" in logged
    assert (frame[:20] if isinstance(frame, str) else frame.decode("latin1")) not in logged


def test_socket_without_a_session_is_told_so_by_code_not_dropped(daphne):
    assert close_code_for(daphne, [], session=None) == 4401


def test_socket_from_same_host_other_port_gets_403_from_the_real_server(daphne, server_log, session):
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    url, _ = daphne
    other_port = url.replace("ws://", "http://").rsplit(":", 1)[0] + ":9999"
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{url}/ws/inbox/", origin=other_port, additional_headers={"Cookie": f"sessionid={session}"})
    assert refused.value.response.status_code == 403
    lines = server_log()
    (logged,) = [line for line in lines if "WebSocket refused" in line]
    assert "origin 'http://127.0.0.1:9999'" in logged
    assert not [line for line in lines if "Traceback" in line or " ERROR " in line], lines
