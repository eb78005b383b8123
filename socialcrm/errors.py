"""How a refused request is answered: one place, so no error path can echo what the user sent.

Services raise Refused("why") when the domain refuses what a user asked (a conversation already
resolved, a note with nothing in it, a merge of a customer with itself); views raise
django.core.exceptions.BadRequest("why") for a request they cannot read. Either is a 400 here. A
page gets the reason inside the 400 template (autoescaped like any text); an htmx request gets it as
text/plain, which the inbox shows with textContent; the API gets it as JSON. Nothing here builds HTML from a string.
"""

import logging

import redis.exceptions
from django.core.exceptions import BadRequest, PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.deprecation import MiddlewareMixin
from kombu.exceptions import OperationalError as KombuOperationalError

from socialcrm.api import error

logger = logging.getLogger(__name__)


class Refused(BadRequest):
    """What a user asked that the domain refuses, with a reason written for them to read.

    Raised by services; answered here as a 400 at every door (the error page, text for htmx, JSON at
    the API), so a view catches it only to do something else (keep a form, go on with a bulk action).
    """


GENERIC_REASON = "The request could not be understood."
RETRY_AFTER_SECONDS = 30
# Redis (cache, rate limits, presence), the Celery broker, or the database not answering: the request
# could not be done, and trying again shortly will work. Anything else is a bug and stays a 500.
UNAVAILABLE = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    KombuOperationalError,
    OperationalError,
    InterfaceError,
)


def bad_request_response(request, reason: str = GENERIC_REASON, *, status: int = 400) -> HttpResponse:
    """A 400 (or `status`) saying why: JSON at the machine doors, text/plain for htmx and other
    callers that do not read HTML, the error page otherwise."""
    if is_machine_door(request):
        return error(status, reason)
    if getattr(request, "htmx", False) or not _wants_html(request):
        return HttpResponse(reason, status=status, content_type="text/plain; charset=utf-8")
    return render(request, "400.html", {"reason": reason}, status=status)


def is_machine_door(request) -> bool:
    """The JSON API and the networks' webhooks: answered in JSON, never with a page or a redirect."""
    return request.path.startswith(("/api/", "/webhooks/"))


def unavailable_response(request) -> HttpResponse:
    """503 with Retry-After: JSON for the APIs and webhooks (nothing was stored), a page for people."""
    if is_machine_door(request):
        response = error(503, "Temporarily unavailable: nothing was stored. Send it again shortly.")
    elif getattr(request, "htmx", False):
        response = HttpResponse(
            "socialcrm cannot reach a service it needs; try again in a minute.",
            status=503,
            content_type="text/plain; charset=utf-8",
        )
    else:
        response = render(request, "503.html", status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class MachineDoorErrorsMiddleware(MiddlewareMixin):
    """At the API and the webhooks every refusal is JSON, whichever part of Django answered it.

    Our views answer in JSON already; this covers what Django itself answers before or instead of a view
    (no route matched: 404; the wrong method: 405; a body over the upload limit: 400; CSRF: 403), which
    would otherwise be an HTML page a client cannot read. The status and headers (Allow, Retry-After,
    WWW-Authenticate) are kept; only the body becomes {"error": "..."}. Outermost but for security
    headers, so a refusal from any other middleware passes through it too.
    """

    def process_response(self, request, response):
        if response.status_code < 400 or not is_machine_door(request) or _is_json(response):
            return response
        message = _MACHINE_DOOR_ERRORS.get(response.status_code, response.reason_phrase)
        json_response = error(response.status_code, message)
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                json_response[header] = response[header]
        return json_response


_MACHINE_DOOR_ERRORS = {
    400: "The request could not be understood.",
    403: "Forbidden.",
    404: "No such API route: see /api/v1/openapi.json for the ones there are.",
    405: "This route does not take that method (the Allow header lists the ones it takes).",
}


def _is_json(response) -> bool:
    return response.get("Content-Type", "").startswith("application/json")


def _wants_html(request) -> bool:
    accept = request.headers.get("Accept", "")
    return not accept or "text/html" in accept or "*/*" in accept


def handler400(request, exception=None):
    """Django's 400 handler: a reason only when the view gave one on purpose (BadRequest)."""
    reason = str(exception) if _says_why(exception) and str(exception) else GENERIC_REASON
    return bad_request_response(request, reason)


def _says_why(exception) -> bool:
    """A BadRequest a view raised, or a service's Refused: their reasons are written for the user.
    (Django's own subclasses, such as a suspicious operation, keep theirs to the log.)"""
    return type(exception) is BadRequest or isinstance(exception, Refused)


NUL_REASON = "The request contains a NUL character, which cannot be stored or searched for; type it again."


class BadRequestMiddleware(MiddlewareMixin):
    """Answers a view's BadRequest through bad_request_response, in DEBUG as in production.

    A NUL character in any query or form value is refused here, for every view at once: PostgreSQL
    cannot store or compare one, so it would otherwise surface as a 500 wherever a view queries with it.
    (MiddlewareMixin keeps it usable in an async chain: one sync-only middleware would run every
    request, async views included, in Django's one sync thread.)
    """

    def process_request(self, request):
        if _holds_nul(request.GET) or (_is_form(request) and _holds_nul(request.POST)):
            return bad_request_response(request, NUL_REASON)
        return None

    def process_exception(self, request, exception):
        if _says_why(exception):
            return bad_request_response(request, str(exception) or GENERIC_REASON)
        if isinstance(exception, UNAVAILABLE):
            logger.error("%s %s: a backing service is unreachable: %r", request.method, request.path, exception)
            return unavailable_response(request)
        return None


def _is_form(request) -> bool:
    # Not multipart: reading it here would consume the stream a view may want as request.body.
    return request.method == "POST" and request.content_type == "application/x-www-form-urlencoded"


def _holds_nul(query) -> bool:
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in query.lists())


FORBIDDEN_REASON = "Your role cannot do this: ask a manager or an admin."
ADMIN_FORBIDDEN_REASON = (
    "Your account may open admin, but not this page of it: an admin grants that permission"
    " (Users, your user, Permissions or Groups)."
)


def handler403(request, exception=None):
    """Django's 403 handler: the reason the view gave (PermissionDenied("...")), else one that fits
    where the person was (admin, or the app); in text for htmx, on a page otherwise."""
    in_admin = request.path.startswith("/admin/")
    given = str(exception) if type(exception) is PermissionDenied else ""
    reason = given or (ADMIN_FORBIDDEN_REASON if in_admin else FORBIDDEN_REASON)
    if getattr(request, "htmx", False) or not _wants_html(request):
        return HttpResponse(reason, status=403, content_type="text/plain; charset=utf-8")
    return render(request, "403.html", {"reason": reason, "in_admin": in_admin}, status=403)


class QuietForbidden(logging.Filter):
    """A 403 is someone trying a door their role does not open: one line in the log, no traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info, record.exc_text = None, None
        return True
