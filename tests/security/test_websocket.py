"""Attacks on the live socket: a page of another origin riding the cookie."""

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client

from socialcrm.asgi import application
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)


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
