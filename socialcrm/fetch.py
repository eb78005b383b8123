"""The one way the server fetches a URL that came from configuration or a payload (feeds; media later).

Such a URL is chosen by someone else, so it must not reach inside our network (SSRF). `Fetcher.get`
promises, for the URL and for every redirect it follows (at most `MAX_REDIRECTS`):

- only http and https, and no user name or password in the URL;
- the host name is resolved once, and every address it resolves to must be allowed, or nothing is
  fetched; the connection goes to the address that was checked (the URL is rewritten to it, while the
  Host header and the TLS server name and certificate check keep the original name), so a second
  DNS answer cannot slip in between the check and the connection;
- allowed means public (`address_is_allowed`): never loopback, private, shared (100.64/10),
  link-local (169.254/16, fe80::/10), multicast, reserved or unspecified, nor those addresses
  wrapped in IPv6 (IPv4-mapped, NAT64, 6to4). With the `ALLOW_PRIVATE_FETCH` setting, loopback and
  private networks are allowed too (on-premise feeds); link-local and the rest never are.
  Any port is allowed: the address is what keeps the fetch outside;
- the body is streamed and abandoned past `max_bytes`, and the whole fetch, redirects included,
  ends after about `max_seconds`;
- no proxy from the environment is used (a proxy would resolve the name again).

A refusal raises `FetchRefused`, whose text suits an admin's form; anything else that goes wrong
raises `FetchFailed`, whose text never carries the connection error, so the errors a caller shows do
not tell an open port from a closed one.
"""

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_address, ip_network

import httpx
from django.conf import settings

IPAddress = IPv4Address | IPv6Address

MAX_REDIRECTS = 5
CONNECT_SECONDS = 5.0
READ_SECONDS = 15.0
REDIRECT_STATUSES = {301, 302, 303, 307, 308}

# On-premise networks, allowed only with ALLOW_PRIVATE_FETCH.
_ON_PREMISE = "127.0.0.0/8 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 100.64.0.0/10 ::1/128 fc00::/7"
_PRIVATE_NETWORKS = [ip_network(network) for network in _ON_PREMISE.split()]
_NAT64 = IPv6Network("64:ff9b::/96")


class FetchRefused(Exception):
    """The URL may not be fetched: not http(s), credentials in it, or an address that is not allowed."""


class FetchFailed(Exception):
    """The fetch was allowed but did not succeed; the text never says how the connection failed."""


class ResponseTooBig(FetchFailed):
    """The body is over the size the caller accepts."""


class ResponseTooSlow(FetchFailed):
    """The fetch took longer than the caller allows."""


class TooManyRedirects(FetchFailed):
    """The URL redirected more than MAX_REDIRECTS times."""


@dataclass(frozen=True)
class Fetched:
    status: int
    headers: httpx.Headers
    content: bytes
    url: str


@dataclass(frozen=True)
class Target:
    """A URL that passed the checks, with the addresses its host resolved to (all of them allowed)."""

    url: httpx.URL
    port: int
    addresses: list[IPAddress]


def address_is_allowed(address: IPAddress, port: int) -> bool:
    """Whether the fetcher may connect to this address (on any port): public, or on-premise when allowed."""
    return all(_allowed_one(one) for one in _destinations(address))


def _allowed_one(address: IPAddress) -> bool:
    if address.is_multicast or address.is_unspecified or address.is_link_local:
        return False
    if settings.ALLOW_PRIVATE_FETCH and any(address in network for network in _PRIVATE_NETWORKS):
        return True
    return address.is_global and not address.is_reserved


def _destinations(address: IPAddress) -> list[IPAddress]:
    """The addresses a connection to this one really reaches: the IPv4 address inside an IPv6 wrapping too."""
    if isinstance(address, IPv4Address):
        return [address]
    if address.ipv4_mapped:
        return [address.ipv4_mapped]
    if address in _NAT64:
        return [IPv4Address(int(address) & 0xFFFFFFFF)]
    if address.sixtofour:
        return [address, address.sixtofour]
    return [address]


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host name (or IP literal, in any form getaddrinfo reads) resolves to, in order."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise FetchFailed("The host name could not be resolved.") from None
    addresses = []
    for *_, sockaddr in answers:
        address = ip_address(sockaddr[0].split("%")[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


@dataclass(frozen=True)
class Fetcher:
    """Fetches URLs that came from outside. Tests may swap the resolver, the policy or the transport."""

    resolve: Callable[[str, int], list[IPAddress]] = resolve
    is_allowed: Callable[[IPAddress, int], bool] = address_is_allowed
    # Makes the transport for each hop (a test's MockTransport, say); None is httpx's own.
    make_transport: Callable[[], httpx.BaseTransport] | None = None

    def check(self, url: str) -> Target:
        """The URL's target if it may be fetched; raises FetchRefused, or FetchFailed if the name does not resolve."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError):
            raise FetchRefused("This is not a valid URL.") from None
        if parsed.scheme not in {"http", "https"}:
            raise FetchRefused("Only http and https URLs can be fetched.")
        if parsed.userinfo:
            raise FetchRefused("The URL must not hold a user name or password.")
        if not parsed.raw_host:
            raise FetchRefused("The URL names no host.")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        if not 0 < port < 65536:
            raise FetchRefused("This is not a valid URL.")
        addresses = self.resolve(parsed.raw_host.decode("ascii"), port)
        if not addresses:
            raise FetchFailed("The host name could not be resolved.")
        if not all(self.is_allowed(address, port) for address in addresses):
            raise FetchRefused(
                "This address is not allowed: it is not public (loopback, private, link-local or reserved)."
            )
        return Target(parsed, port, addresses)

    def get(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        max_bytes: int,
        max_seconds: float,
        max_redirects: int = MAX_REDIRECTS,
    ) -> Fetched:
        """GET the URL, following at most max_redirects redirects, each one checked like the URL itself."""
        watchdog = _Watchdog(max_seconds)
        try:
            return self._follow(url, headers or {}, max_bytes=max_bytes, max_redirects=max_redirects, watchdog=watchdog)
        except FetchFailed:
            if watchdog.expired:
                raise ResponseTooSlow("The fetch took too long.") from None
            raise
        finally:
            watchdog.cancel()

    def _follow(self, url: str, headers: dict, *, max_bytes: int, max_redirects: int, watchdog: "_Watchdog") -> Fetched:
        for _hop in range(max_redirects + 1):
            target = self.check(url)
            # A client a hop, so no connection verified for one host name is reused for another.
            with httpx.Client(transport=self._transport(), trust_env=False, follow_redirects=False) as client:
                response = self._send(client, target, headers, watchdog=watchdog)
                try:
                    location = response.headers.get("Location")
                    if response.status_code in REDIRECT_STATUSES and location:
                        url = _redirect_target(target.url, location)
                        continue
                    content = _read(response, max_bytes=max_bytes, watchdog=watchdog)
                    return Fetched(response.status_code, response.headers, content, str(target.url))
                except httpx.HTTPError:
                    raise FetchFailed("The fetch failed.") from None
                finally:
                    response.close()
        raise TooManyRedirects(f"More than {max_redirects} redirects.")

    def _transport(self) -> httpx.BaseTransport | None:
        return self.make_transport() if self.make_transport else None

    def _send(self, client: httpx.Client, target: Target, headers: dict, *, watchdog: "_Watchdog") -> httpx.Response:
        """Open the response at the first checked address that takes the connection."""
        for address in target.addresses:
            request = client.build_request(
                "GET",
                target.url.copy_with(host=str(address)),
                headers={**headers, "Host": target.url.netloc.decode("ascii")},
                extensions={"sni_hostname": target.url.raw_host.decode("ascii"), "trace": watchdog.trace},
                timeout=_timeout(watchdog.deadline),
            )
            try:
                return client.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                continue
            except httpx.HTTPError:
                break
        raise FetchFailed("The fetch failed.")


class _Watchdog:
    """Cuts a fetch's connections when its time is up, even in the middle of a read.

    A read timeout alone does not cap the time: a server can send its headers a byte at a time, each
    within the timeout. So the sockets the fetch opens (seen through httpx's "trace" extension) are
    shut down at the deadline, which ends any read blocked on them.
    """

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds
        self._cut = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def trace(self, event: str, info: dict) -> None:
        stream = info.get("return_value")
        if not hasattr(stream, "get_extra_info"):
            return
        sock = stream.get_extra_info("socket")
        with self._lock:
            self._sockets.append(sock)
            cut = self._cut
        if cut:
            _shut(sock)

    @property
    def expired(self) -> bool:
        return self._cut or time.monotonic() >= self.deadline

    def _expire(self) -> None:
        with self._lock:
            self._cut = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def cancel(self) -> None:
        self._timer.cancel()


def _shut(sock: socket.socket | None) -> None:
    with contextlib.suppress(OSError, AttributeError):
        sock.shutdown(socket.SHUT_RDWR)


def _redirect_target(url: httpx.URL, location: str) -> str:
    # httpx already refuses most malformed Locations while reading the response (FetchFailed then).
    try:
        return str(url.join(location))
    except httpx.InvalidURL:
        raise FetchRefused("The redirect is not a valid URL.") from None


def _timeout(deadline: float) -> httpx.Timeout:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise ResponseTooSlow("The fetch took too long.")
    return httpx.Timeout(min(READ_SECONDS, remaining), connect=min(CONNECT_SECONDS, remaining))


def _read(response: httpx.Response, *, max_bytes: int, watchdog: _Watchdog) -> bytes:
    """The body (decompressed), or ResponseTooBig / ResponseTooSlow as soon as it passes a limit."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooBig(f"The body is over {max_bytes} bytes.")
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise ResponseTooBig(f"The body is over {max_bytes} bytes.")
        if watchdog.expired:
            raise ResponseTooSlow("The fetch took too long.")
        chunks.append(chunk)
    if watchdog.expired:  # a body that ends with the connection may have ended because the watchdog cut it
        raise ResponseTooSlow("The fetch took too long.")
    return b"".join(chunks)


def check_url(url: str) -> Target:
    """Whether the default fetcher would fetch this URL now (for forms): raises FetchRefused or FetchFailed."""
    return Fetcher().check(url)
