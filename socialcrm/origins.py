"""Which pages may open a WebSocket with the visitor's cookie: only the site's own.

A browser sends the session cookie with a WebSocket handshake whatever page opens it, and the
handshake is not subject to CSRF; the Origin header is the only thing that tells our page from
another. An origin is scheme, host and port together: a page at http://localhost:9999 is not ours
because the site runs on http://localhost:8000.
"""

import logging

from django.conf import settings
from django.http.request import split_domain_port, validate_host

logger = logging.getLogger(__name__)


def is_site_origin(scope: dict) -> bool:
    """True if the handshake comes from a page of this site, as Django's CSRF check reads the Origin.

    The site's origins are settings.SITE_ORIGINS and CSRF_TRUSTED_ORIGINS (exact entries), and the
    origin of the Host the browser connected to when that Host is in ALLOWED_HOSTS, with the scheme
    Django would see (https through SECURE_PROXY_SSL_HEADER, or wss). A handshake without exactly
    one Origin header is refused: every browser sends one, so only a client that holds the cookie
    itself, and needs no page to ride it, could do without.
    """
    headers: dict[bytes, list[str]] = {}
    for name, value in scope.get("headers", []):
        headers.setdefault(name.lower(), []).append(value.decode("latin1"))
    origins = headers.get(b"origin", [])
    if len(origins) != 1:
        return False
    origin = origins[0].lower()
    if origin in {o.lower() for o in (*settings.SITE_ORIGINS, *settings.CSRF_TRUSTED_ORIGINS)}:
        return True
    hosts = headers.get(b"host", [])
    if len(hosts) != 1 or not validate_host(split_domain_port(hosts[0])[0], settings.ALLOWED_HOSTS):
        return False
    return origin == f"{_scheme(scope, headers)}://{hosts[0].lower()}"


def _scheme(scope: dict, headers: dict[bytes, list[str]]) -> str:
    """http or https, as Django's request.scheme would say for this connection."""
    if settings.SECURE_PROXY_SSL_HEADER:
        meta_name, secure_value = settings.SECURE_PROXY_SSL_HEADER
        name = meta_name.removeprefix("HTTP_").lower().replace("_", "-").encode()
        if name in headers:  # several are read as Django does: joined, then the first value
            first = ",".join(headers[name]).split(",", 1)[0].strip()
            return "https" if first == secure_value else "http"
    return "https" if scope.get("scheme") == "wss" else "http"


class SiteOriginValidator:
    """ASGI middleware: a WebSocket from a page that is not the site's own is refused before it is
    accepted (the browser sees a 403 on the handshake), and logged; anything else passes through."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not is_site_origin(scope):
            headers = dict(scope.get("headers", []))
            logger.warning(
                "WebSocket refused: origin %r is not this site's (host %r)",
                headers.get(b"origin", b"")[:200].decode("latin1"),
                headers.get(b"host", b"")[:200].decode("latin1"),
            )
            if (await receive())["type"] == "websocket.connect":
                await send({"type": "websocket.close"})
            return None
        return await self.application(scope, receive, send)
