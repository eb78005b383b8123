import asyncio
import logging
import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from socialcrm.accounts import sign_out_everywhere as end_every_session

logger = logging.getLogger(__name__)

CHANNEL_LAYER_TIMEOUT_SECONDS = 2.0


@login_not_required
@never_cache
@require_GET
def healthz(request):
    """Whether this process can reach its database and channel layer; 503 if either is down.

    Public, for load balancers and uptime checks, so it names backends but never hosts,
    credentials or error details.
    """
    checks = {"database": _check_database(), "channel_layer": _check_channel_layer()}
    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse({"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503)


@login_not_required
@require_GET
def favicon(request):
    """Browsers ask for /favicon.ico on pages that name no icon (a file download, say): the app's icon."""
    return redirect(static("favicon.svg"), permanent=True)


@login_not_required
@require_GET
def api_docs(request):
    """The API reference, read from the OpenAPI document by Swagger UI (npm: swagger-ui-dist)."""
    return render(request, "api_docs.html")


def _check_database() -> dict:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.exception("health check: database unreachable")
        return {"ok": False, "vendor": connection.vendor}
    return {"ok": True, "vendor": connection.vendor, "ms": _elapsed_ms(started)}


def _check_channel_layer() -> dict:
    layer = get_channel_layer()
    backend = type(layer).__name__
    started = time.perf_counter()
    try:
        async_to_sync(_round_trip)(layer)
    except Exception:
        logger.exception("health check: channel layer unreachable")
        return {"ok": False, "backend": backend}
    return {"ok": True, "backend": backend, "ms": _elapsed_ms(started)}


async def _round_trip(layer) -> None:
    """Send a message to a fresh channel and read it back."""
    async with asyncio.timeout(CHANNEL_LAYER_TIMEOUT_SECONDS):
        channel = await layer.new_channel("healthz.")
        await layer.send(channel, {"type": "healthz.ping"})
        message = await layer.receive(channel)
    if message.get("type") != "healthz.ping":
        raise RuntimeError("channel layer returned a different message")


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


@require_POST
def sign_out_everywhere(request):
    """End this person's sessions on every device (a lost laptop, a shared computer), this one too."""
    user = request.user
    ended = end_every_session(user)
    logout(request)
    messages.info(request, f"Signed out everywhere: {ended} session{'s' if ended != 1 else ''} ended.")
    return redirect("account_login")
