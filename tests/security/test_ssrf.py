"""SSRF through feed polling: a feed URL must not reach inside our network (hardening issue, finding 3).

Every test here runs behind two safety nets, so that whatever the code under test does, no traffic
leaves this machine: a connection to an address outside loopback is refused and recorded
(`connections_outside_loopback`), and a host name is answered only by the test's own DNS
(`fake_dns`; numeric forms and localhost resolve as usual, without a DNS query). Feeds are served
by small HTTP servers on loopback addresses that record each request they get.
"""

import contextlib
import ipaddress
import json
import socket
import socketserver
import ssl
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from inbox.connectors.rss import poll_feed
from inbox.models import Channel, Message
from socialcrm.fetch import Fetcher
from tests.factories import make_channel
from tests.helpers import FIXTURES

pytestmark = pytest.mark.django_db

FEED = (FIXTURES / "rss" / "forum.xml").read_bytes()
NOT_ALLOWED = "The feed address is not allowed."
COULD_NOT_FETCH = "Could not fetch the feed."
# A public address (example.com's). No test connects to it; the safety net would refuse if one tried.
PUBLIC_ADDRESS = "93.184.215.14"


# --- safety nets --------------------------------------------------------------------------------


def _reaches_only_this_machine(host: str) -> bool:
    address = ipaddress.ip_address(host.split("%")[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_loopback


@pytest.fixture(autouse=True)
def connections_outside_loopback(monkeypatch) -> list[str]:
    """The addresses outside loopback something tried to connect to; each attempt was refused."""
    attempts = []
    real_connect = socket.socket.connect

    def connect(sock, address):
        if not _reaches_only_this_machine(address[0]):
            attempts.append(address[0])
            raise ConnectionRefusedError(f"test safety net: no connection to {address[0]}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


class FakeDNS:
    """Answers the names a test gives it (in turn, the last answer repeating); fails every other name."""

    def __init__(self):
        self.answers: dict[str, list[list[str]]] = {}
        self.lookups: list[str] = []
        self.real_getaddrinfo = socket.getaddrinfo

    def answer(self, name: str, *answers: list[str]) -> None:
        self.answers[name] = list(answers)

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        if host in self.answers:
            self.lookups.append(host)
            turns = self.answers[host]
            addresses = turns.pop(0) if len(turns) > 1 else turns[0]
            return [_address_info(address, int(port or 0)) for address in addresses]
        if _numeric_or_localhost(host):
            return self.real_getaddrinfo(host, port, family, type, proto, flags)
        raise socket.gaierror(socket.EAI_NONAME, "test DNS: unknown name")


def _address_info(address: str, port: int):
    if ":" in address:
        return (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))


def _numeric_or_localhost(host) -> bool:
    if host in {"localhost", "localhost."}:
        return True
    try:
        socket.inet_aton(host)  # every IPv4 form: 127.1, 2130706433, 0x7f000001
        return True
    except (OSError, TypeError):
        pass
    try:
        ipaddress.ip_address(str(host).split("%")[0])
        return True
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch) -> FakeDNS:
    dns = FakeDNS()
    monkeypatch.setattr(socket, "getaddrinfo", dns.getaddrinfo)
    return dns


# --- loopback servers ---------------------------------------------------------------------------


class LoopbackServer(ThreadingHTTPServer):
    """An HTTP server on one loopback address that records (path, Host) of each request."""

    daemon_threads = True

    def __init__(self, host: str, port: int, answer):
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.requests: list[tuple[str, str]] = []
        self.answer = answer
        self.stop = threading.Event()
        super().__init__((host, port), _Handler)

    def server_bind(self):
        # HTTPServer would look its own name up (a reverse DNS query); a test needs no name.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    @property
    def port(self) -> int:
        return self.server_address[1]


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.requests.append((self.path, self.headers.get("Host", "")))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client hung up, as it should
            self.server.answer(self)

    def log_message(self, *args):
        pass


def answer_with_the_feed(handler):
    handler.send_response(200)
    handler.send_header("Content-Type", "application/rss+xml")
    handler.send_header("Content-Length", str(len(FEED)))
    handler.end_headers()
    handler.wfile.write(FEED)


def answer_with_a_redirect_to(location: str):
    def answer(handler):
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return answer


@pytest.fixture
def serve():
    """Start a loopback server: serve(answer=..., host="127.0.0.1", port=0, tls=None) -> LoopbackServer."""
    servers = []

    def start(
        answer=answer_with_the_feed, *, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None
    ) -> LoopbackServer:
        server = LoopbackServer(host, port, answer)
        if tls:
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop.set()
        server.shutdown()
        server.server_close()


def feed_channel(url: str, slug: str = "community") -> Channel:
    channel = make_channel(slug, network="forum", kind="rss")
    channel.config = {"feed_url": url}
    channel.save()
    return channel


def only(host: str, port: int):
    """A policy that allows exactly one loopback address and port, standing in for a public feed host."""
    return lambda address, to_port: (str(address), to_port) == (host, port)


def assert_nothing_fetched(channel: Channel, *servers: LoopbackServer, error: str = NOT_ALLOWED) -> None:
    for server in servers:
        assert server.requests == []
    assert not Message.objects.exists()
    channel.refresh_from_db()
    assert channel.last_poll_error == error


# --- the feed URL itself ------------------------------------------------------------------------


def test_feed_url_in_decimal_ip_form_is_not_fetched(serve):
    server = serve()
    channel = feed_channel(f"http://2130706433:{server.port}/feed.rss")

    poll_feed(channel)

    assert_nothing_fetched(channel, server)


def test_feed_url_in_short_ip_form_is_not_fetched(serve):
    server = serve()
    channel = feed_channel(f"http://127.1:{server.port}/feed.rss")

    poll_feed(channel)

    assert_nothing_fetched(channel, server)


def test_feed_url_in_hex_ip_form_is_not_fetched(serve):
    server = serve()
    channel = feed_channel(f"http://0x7f000001:{server.port}/feed.rss")

    poll_feed(channel)

    assert_nothing_fetched(channel, server)


def test_feed_url_naming_localhost_is_not_fetched(serve):
    server = serve()
    channel = feed_channel(f"http://localhost:{server.port}/feed.rss")

    poll_feed(channel)

    assert_nothing_fetched(channel, server)


def test_feed_url_with_the_ipv6_loopback_literal_is_not_fetched(serve):
    server = serve(host="::1")
    channel = feed_channel(f"http://[::1]:{server.port}/feed.rss")

    poll_feed(channel)

    assert_nothing_fetched(channel, server)


def test_feed_url_with_an_ipv4_mapped_ipv6_loopback_is_not_fetched(serve):
    server = serve()
    channel = feed_channel(f"http://[::ffff:127.0.0.1]:{server.port}/feed.rss")

    poll_feed(channel)

    assert_nothing_fetched(channel, server)


def test_feed_on_loopback_is_fetched_only_once_private_fetch_is_allowed(serve, settings):
    server = serve()
    channel = feed_channel(f"http://127.0.0.1:{server.port}/feed.rss")
    poll_feed(channel)
    assert_nothing_fetched(channel, server)

    settings.ALLOW_PRIVATE_FETCH = True  # an on-premise deployment
    result = poll_feed(channel)

    assert (result.status, result.accepted) == ("fetched", 2)
    assert server.requests == [("/feed.rss", f"127.0.0.1:{server.port}")]


def test_feed_url_with_a_user_name_before_a_loopback_host_is_not_fetched(serve):
    server = serve()
    channel = feed_channel(f"http://feeds.example@127.0.0.1:{server.port}/feed.rss")

    poll_feed(channel)

    assert_nothing_fetched(channel, server)


def test_feed_host_name_that_resolves_to_loopback_is_not_fetched(serve, fake_dns):
    server = serve()
    fake_dns.answer("feeds.example", ["127.0.0.1"])
    channel = feed_channel(f"http://feeds.example:{server.port}/feed.rss")

    poll_feed(channel)

    assert_nothing_fetched(channel, server)


def test_feed_host_name_that_resolves_to_loopback_among_public_addresses_is_not_fetched(
    serve, fake_dns, connections_outside_loopback
):
    server = serve()
    fake_dns.answer("feeds.example", ["127.0.0.1", PUBLIC_ADDRESS])
    channel = feed_channel(f"http://feeds.example:{server.port}/feed.rss")

    poll_feed(channel)

    assert_nothing_fetched(channel, server)
    assert connections_outside_loopback == []


@pytest.mark.parametrize(
    "host",
    [
        "0.0.0.0",  # noqa: S104 - a destination: on Linux, connecting to it reaches this machine
        "[::]",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",  # shared address space (carrier-grade NAT)
        "169.254.169.254",  # cloud metadata
        "[fe80::1]",
        "[fc00::1]",
        "224.0.0.1",
        "[ff02::1]",
        "240.0.0.1",
        "255.255.255.255",
        "[::ffff:169.254.169.254]",  # IPv4-mapped
        "[::ffff:10.0.0.1]",
        "[64:ff9b::a9fe:a9fe]",  # NAT64 of 169.254.169.254
        "[2002:a9fe:a9fe::1]",  # 6to4 of 169.254.169.254
    ],
)
def test_feed_url_at_a_non_public_address_is_refused_before_connecting(host, connections_outside_loopback):
    channel = feed_channel(f"http://{host}/latest/meta-data/")

    poll_feed(channel)

    assert connections_outside_loopback == []
    assert_nothing_fetched(channel)


@pytest.mark.parametrize("host", ["169.254.169.254", "[fe80::1]", "[::ffff:169.254.169.254]", "0.0.0.0"])  # noqa: S104
def test_metadata_and_link_local_addresses_stay_refused_when_private_fetch_is_allowed(
    host, settings, connections_outside_loopback
):
    settings.ALLOW_PRIVATE_FETCH = True
    channel = feed_channel(f"http://{host}/latest/meta-data/")

    poll_feed(channel)

    assert connections_outside_loopback == []
    assert_nothing_fetched(channel)


def test_feed_host_name_rebound_to_another_address_after_the_check_is_not_looked_up_again(serve, fake_dns):
    checked = serve()
    rebound = serve(host="127.0.0.2", port=checked.port)
    fake_dns.answer("feeds.example", ["127.0.0.1"], ["127.0.0.2"])
    channel = feed_channel(f"http://feeds.example:{checked.port}/feed.rss")

    result = poll_feed(channel, fetcher=Fetcher(is_allowed=only("127.0.0.1", checked.port)))

    assert result.accepted == 2
    assert checked.requests == [("/feed.rss", f"feeds.example:{checked.port}")]
    assert rebound.requests == []
    assert fake_dns.lookups == ["feeds.example"]


def certificate_for(name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for one host name: (the server's TLS context, a client context trusting it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.NamedTemporaryFile() as cert_file, tempfile.NamedTemporaryFile() as key_file:
        cert_file.write(pem)
        key_file.write(key_pem)
        cert_file.flush()
        key_file.flush()
        server.load_cert_chain(cert_file.name, key_file.name)
    return server, ssl.create_default_context(cadata=pem.decode())


def poll_over_https(serve, fake_dns, *, certified_name: str) -> tuple[Channel, LoopbackServer]:
    server_tls, trusting_client = certificate_for(certified_name)
    server = serve(tls=server_tls)
    fake_dns.answer("feeds.example", ["127.0.0.1"])
    channel = feed_channel(f"https://feeds.example:{server.port}/feed.rss")
    fetcher = Fetcher(
        is_allowed=only("127.0.0.1", server.port),
        make_transport=lambda: httpx.HTTPTransport(verify=trusting_client),
    )
    poll_feed(channel, fetcher=fetcher)
    return channel, server


def test_feed_server_at_the_pinned_address_with_a_certificate_for_another_name_is_not_trusted(serve, fake_dns):
    channel, server = poll_over_https(serve, fake_dns, certified_name="other.example")

    assert_nothing_fetched(channel, server, error=COULD_NOT_FETCH)


def test_feed_over_https_at_the_pinned_address_is_verified_against_its_own_host_name(serve, fake_dns):
    _, server = poll_over_https(serve, fake_dns, certified_name="feeds.example")

    assert server.requests == [("/feed.rss", f"feeds.example:{server.port}")]
    assert Message.objects.count() == 2


# --- redirects ----------------------------------------------------------------------------------


def test_feed_redirecting_to_the_metadata_address_is_refused_before_connecting(serve, connections_outside_loopback):
    server = serve(answer_with_a_redirect_to("http://169.254.169.254/latest/meta-data/"))
    channel = feed_channel(f"http://127.0.0.1:{server.port}/feed.rss")

    poll_feed(channel, fetcher=Fetcher(is_allowed=only("127.0.0.1", server.port)))

    assert_nothing_fetched(channel)
    assert len(server.requests) == 1
    assert connections_outside_loopback == []


@pytest.mark.parametrize(
    ("target_host", "url_host"),
    [("127.0.0.2", "127.0.0.2"), ("::1", "[::1]"), ("127.0.0.1", "2130706433")],
)
def test_feed_redirecting_to_another_loopback_address_is_not_followed(serve, target_host, url_host):
    target = serve(host=target_host)
    server = serve(answer_with_a_redirect_to(f"http://{url_host}:{target.port}/secret"))
    channel = feed_channel(f"http://127.0.0.1:{server.port}/feed.rss")

    poll_feed(channel, fetcher=Fetcher(is_allowed=only("127.0.0.1", server.port)))

    assert_nothing_fetched(channel, target)


def test_feed_redirecting_to_a_file_url_is_not_followed(serve):
    server = serve(answer_with_a_redirect_to("file:///etc/passwd"))
    channel = feed_channel(f"http://127.0.0.1:{server.port}/feed.rss")

    poll_feed(channel, fetcher=Fetcher(is_allowed=only("127.0.0.1", server.port)))

    assert_nothing_fetched(channel)


def test_feed_redirecting_to_a_malformed_url_is_not_followed(serve):
    server = serve(answer_with_a_redirect_to("http://[::1/feed.rss"))
    channel = feed_channel(f"http://127.0.0.1:{server.port}/feed.rss")

    poll_feed(channel, fetcher=Fetcher(is_allowed=only("127.0.0.1", server.port)))

    assert_nothing_fetched(channel, error=COULD_NOT_FETCH)


def test_feed_redirecting_in_a_loop_is_cut_off_after_five_redirects(serve):
    server = serve(answer_with_a_redirect_to("/feed.rss"))
    channel = feed_channel(f"http://127.0.0.1:{server.port}/feed.rss")

    poll_feed(channel, fetcher=Fetcher(is_allowed=only("127.0.0.1", server.port)))

    assert_nothing_fetched(channel, error="The feed redirected too many times.")
    assert len(server.requests) == 6


# --- size, time and what the error says ---------------------------------------------------------


def test_feed_with_an_endless_body_is_cut_off_at_the_size_cap(serve, settings):
    def endless(handler):
        handler.send_response(200)
        handler.end_headers()  # no Content-Length: the body ends when the connection does
        while not handler.server.stop.is_set():
            handler.wfile.write(b"<item>" * 10_000)

    settings.ALLOW_PRIVATE_FETCH = True
    channel = feed_channel(f"http://127.0.0.1:{serve(endless).port}/feed.rss")

    poll_feed(channel)

    assert_nothing_fetched(channel, error="The feed is over 10 MB.")


def test_feed_declaring_a_body_over_the_cap_is_refused_unread(serve, settings):
    def huge_then_silent(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(50 * 1024 * 1024))
        handler.end_headers()
        handler.wfile.write(b"<rss>")
        handler.server.stop.wait(30)

    settings.ALLOW_PRIVATE_FETCH = True
    channel = feed_channel(f"http://127.0.0.1:{serve(huge_then_silent).port}/feed.rss")
    started = time.monotonic()

    poll_feed(channel)

    assert time.monotonic() - started < 5
    assert_nothing_fetched(channel, error="The feed is over 10 MB.")


def test_feed_that_never_answers_is_cut_off_at_the_time_cap(serve, settings, monkeypatch):
    def silent(handler):
        handler.server.stop.wait(30)

    settings.ALLOW_PRIVATE_FETCH = True
    monkeypatch.setattr("inbox.connectors.rss.MAX_FETCH_SECONDS", 1)
    channel = feed_channel(f"http://127.0.0.1:{serve(silent).port}/feed.rss")
    started = time.monotonic()

    poll_feed(channel)

    assert time.monotonic() - started < 5
    assert_nothing_fetched(channel, error="The feed took over 1 s to read.")


def test_feed_that_trickles_forever_is_cut_off_at_the_time_cap(serve, settings, monkeypatch):
    def trickle(handler):
        handler.send_response(200)
        handler.end_headers()
        while not handler.server.stop.wait(0.05):
            handler.wfile.write(b" ")
            handler.wfile.flush()

    settings.ALLOW_PRIVATE_FETCH = True
    monkeypatch.setattr("inbox.connectors.rss.MAX_FETCH_SECONDS", 1)
    channel = feed_channel(f"http://127.0.0.1:{serve(trickle).port}/feed.rss")
    started = time.monotonic()

    poll_feed(channel)

    assert time.monotonic() - started < 5
    assert_nothing_fetched(channel, error="The feed took over 1 s to read.")


def test_feed_that_trickles_its_headers_is_cut_off_at_the_time_cap(serve, settings, monkeypatch):
    def trickle_headers(handler):
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        handler.wfile.flush()
        until = time.monotonic() + 8  # each byte well within the read timeout, for as long as the test allows
        while time.monotonic() < until and not handler.server.stop.wait(0.1):
            handler.wfile.write(b"a")
            handler.wfile.flush()

    settings.ALLOW_PRIVATE_FETCH = True
    monkeypatch.setattr("inbox.connectors.rss.MAX_FETCH_SECONDS", 1)
    channel = feed_channel(f"http://127.0.0.1:{serve(trickle_headers).port}/feed.rss")
    started = time.monotonic()

    poll_feed(channel)

    assert time.monotonic() - started < 5
    assert_nothing_fetched(channel, error="The feed took over 1 s to read.")


def test_poll_errors_do_not_tell_an_open_port_from_a_closed_one(settings):
    settings.ALLOW_PRIVATE_FETCH = True  # on premise, the fetch is attempted
    with socket.create_server(("127.0.0.1", 0)) as probe:
        closed_port = probe.getsockname()[1]
    listener = socket.create_server(("127.0.0.1", 0))

    def hang_up():
        connection, _ = listener.accept()
        connection.recv(1024)
        connection.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
        connection.close()

    threading.Thread(target=hang_up, daemon=True).start()
    closed = feed_channel(f"http://127.0.0.1:{closed_port}/", slug="closed")
    open_ = feed_channel(f"http://127.0.0.1:{listener.getsockname()[1]}/", slug="open")

    try:
        errors = {poll_feed(closed).error, poll_feed(open_).error}
    finally:
        listener.close()

    assert errors == {COULD_NOT_FETCH}


# --- admin --------------------------------------------------------------------------------------


def channel_form(feed_url, **fields) -> dict:
    return {
        "name": "Community",
        "slug": "community",
        "kind": "rss",
        "network": "forum",
        "is_active": "on",
        "listening_keywords": "",
        "config": json.dumps({"feed_url": feed_url}),
        "secrets": "{}",
        "default_queue": "",
        "reopen_window_hours": 72,
        "rate_limit_per_minute": 60000,
        **fields,
    }


@pytest.mark.parametrize(
    ("feed_url", "reason"),
    [
        ("http://2130706433:8199/feed.rss", "not allowed"),
        ("http://127.1/feed.rss", "not allowed"),
        ("http://[::1]/feed.rss", "not allowed"),
        ("http://localhost/feed.rss", "not allowed"),
        ("http://0x7f000001/feed.rss", "not allowed"),
        ("http://[::ffff:127.0.0.1]/feed.rss", "not allowed"),
        ("http://169.254.169.254/latest/meta-data/", "not allowed"),
        ("http://10.0.0.1/feed.rss", "not allowed"),
        ("http://0177.0.0.1/feed.rss", "not a valid URL"),
        ("http://feeds.example@127.0.0.1/feed.rss", "user name or password"),
        ("file:///etc/passwd", "Only http and https"),
        ("gopher://127.0.0.1:6379/_INFO", "Only http and https"),
        (["http://127.0.0.1/"], "not a valid URL"),
    ],
)
def test_admin_refuses_to_save_a_feed_url_that_points_inside_our_network(admin_client, feed_url, reason):
    response = admin_client.post("/admin/inbox/channel/add/", channel_form(feed_url))

    assert response.status_code == 200
    page = response.content.decode()
    assert "feed_url" in page and reason in page
    assert not Channel.objects.filter(slug="community").exists()


def test_admin_refuses_a_feed_host_name_that_resolves_to_loopback(admin_client, fake_dns):
    fake_dns.answer("feeds.example", ["127.0.0.1"])

    response = admin_client.post("/admin/inbox/channel/add/", channel_form("https://feeds.example/feed.rss"))

    assert response.status_code == 200 and "not allowed" in response.content.decode()
    assert not Channel.objects.filter(slug="community").exists()


def test_admin_refuses_to_change_a_feed_url_to_a_loopback_address(admin_client):
    channel = feed_channel("https://feeds.example/feed.rss")

    response = admin_client.post(
        f"/admin/inbox/channel/{channel.pk}/change/", channel_form("http://2130706433:8199/feed.rss")
    )

    assert response.status_code == 200 and "not allowed" in response.content.decode()
    channel.refresh_from_db()
    assert channel.config == {"feed_url": "https://feeds.example/feed.rss"}


def test_admin_still_saves_a_feed_url_on_a_public_address(admin_client, fake_dns, connections_outside_loopback):
    fake_dns.answer("feeds.example", [PUBLIC_ADDRESS])

    response = admin_client.post("/admin/inbox/channel/add/", channel_form("https://feeds.example/feed.rss"))

    assert response.status_code == 302
    assert Channel.objects.get(slug="community").config == {"feed_url": "https://feeds.example/feed.rss"}
    assert connections_outside_loopback == []  # saving resolves the name; it connects to nothing
