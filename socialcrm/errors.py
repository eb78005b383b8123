"""How a refused request is answered: one place, so no error path can echo what the user sent.

Views raise django.core.exceptions.BadRequest("why") for a 400. A page gets the reason inside the
400 template (autoescaped like any text); an htmx request gets it as text/plain, which the inbox
shows with textContent. Nothing here builds HTML from a string.
"""

from django.core.exceptions import BadRequest
from django.http import HttpResponse
from django.shortcuts import render

GENERIC_REASON = "The request could not be understood."


def bad_request_response(request, reason: str = GENERIC_REASON, *, status: int = 400) -> HttpResponse:
    """A 400 (or `status`) saying why: text/plain for htmx and API callers, the error page otherwise."""
    if getattr(request, "htmx", False) or not _wants_html(request):
        return HttpResponse(reason, status=status, content_type="text/plain; charset=utf-8")
    return render(request, "400.html", {"reason": reason}, status=status)


def _wants_html(request) -> bool:
    accept = request.headers.get("Accept", "")
    return not accept or "text/html" in accept or "*/*" in accept


def handler400(request, exception=None):
    """Django's 400 handler: a reason only when the view gave one on purpose (BadRequest)."""
    reason = str(exception) if type(exception) is BadRequest and str(exception) else GENERIC_REASON
    return bad_request_response(request, reason)


class BadRequestMiddleware:
    """Answers a view's BadRequest through bad_request_response, in DEBUG as in production."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if type(exception) is BadRequest:
            return bad_request_response(request, str(exception) or GENERIC_REASON)
        return None
