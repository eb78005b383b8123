"""Reflected XSS: a script in any query parameter or form field of any view never comes back as HTML.

The campaign found `/inbox/?type=<img src=x onerror=alert(1)>` answered with the raw value in a
text/html 400. This walks the whole URL conf (as test_who_sees_what does), learns which parameters
each view reads by watching a first, empty request, then sends the payload in each of them alone
(so it reaches the check that refuses it) and in all of them at once, as a page and as htmx.
"""

import re
from contextlib import contextmanager

import pytest
from django.contrib.auth.models import User
from django.http import QueryDict
from django.urls import get_resolver

from inbox.models import Message
from profiles.services import merge_customers
from tests.factories import make_channel, make_conversation, make_customer, make_user
from tests.helpers import walk

pytestmark = pytest.mark.django_db

PAYLOAD = "\"'><img src=x onerror=alert(1)><svg onload=alert(2)>"
RAW = ("<img src=x onerror", "<svg onload")
# Fields the templates post and the links carry: sent all at once too, for reads a first request misses.
KNOWN_FIELDS = [
    "action",
    "assignee",
    "back",
    "confirm",
    "ids",
    "label",
    "labels",
    "message_type",
    "next",
    "other",
    "priority",
    "private",
    "q",
    "queue",
    "seen",
    "sentiment",
    "snooze_hours",
    "status",
    "tags",
    "text",
    "texts",
    "type",
    "network",
    "after",
    "before",
]
# Admin's per-object pages (add, change, delete, history) are Django's own forms, escaped by its widgets;
# its lists, its index and our own admin views read parameters and are walked.
DJANGO_OBJECT_PAGES = re.compile(r"^admin:\w+_(add|change|delete|history)$")
ROUTES = sorted(
    {
        (name or "", route)
        for name, route in walk(get_resolver())
        if "logout" not in (name or "") and not DJANGO_OBJECT_PAGES.match(name or "")
    }
)
HEADERS = {"page": {}, "htmx": {"HX-Request": "true", "HX-Target": "conversation-list"}}


@pytest.fixture
def ids():
    conversation = make_conversation("service", text="My phone has no signal")
    merge = merge_customers(keep=conversation.customer, merge=make_customer("Twin"), by=None)
    make_channel("brand-mentions")
    return {
        "conversation_id": conversation.pk,
        "message_id": Message.objects.get(conversation=conversation).pk,
        "customer_id": conversation.customer_id,
        "merge_id": merge.pk,
        "object_id": conversation.pk,
        "slug": "brand-mentions",
    }


def _path(route: str, ids: dict) -> str:
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda match: str(ids.get(match.group(1), "x")), route)
    path = re.sub(r"\(\?P<\w+>[^)]*\)", "x", path)
    return "/" + path.replace("^", "").replace("$", "").replace("\\", "")


@contextmanager
def reads_of_parameters():
    """Every key a view looks up in request.GET or request.POST while inside."""
    seen: set[str] = set()
    originals = {name: getattr(QueryDict, name) for name in ("get", "getlist", "__getitem__", "__contains__")}

    def recording(name):
        def method(self, key, *args, **kwargs):
            if isinstance(key, str):
                seen.add(key)
            return originals[name](self, key, *args, **kwargs)

        return method

    for name in originals:
        setattr(QueryDict, name, recording(name))
    try:
        yield seen
    finally:
        for name, original in originals.items():
            setattr(QueryDict, name, original)


def _assert_not_reflected(response, where: str) -> None:
    assert response.status_code < 500, f"{where} answered {response.status_code}"
    body = response.content.decode(errors="replace")
    if any(raw in body for raw in RAW):
        kind = response.headers.get("Content-Type", "")
        assert kind.startswith(("text/plain", "application/json")), f"{where} echoed the payload as {kind}"
        assert response.headers.get("X-Content-Type-Options") == "nosniff", f"{where} may be sniffed as HTML"


def test_the_walk_covers_the_inbox_customers_api_accounts_and_admin():
    names = {name for name, _ in ROUTES}
    assert {"inbox:home", "inbox:conversation", "profiles:search", "api-ingest", "account_login"} <= names
    assert any(name.startswith("admin:") for name in names)


@pytest.mark.parametrize(("name", "route"), ROUTES, ids=[f"{n or '?'} {r}" for n, r in ROUTES])
def test_a_script_in_any_parameter_is_never_reflected_as_html(client, ids, name, route):
    def sign_in():  # again before each request: a confirmed admin delete may have taken the admin too
        admin = User.objects.filter(username="ada").first() or make_user("ada", role="admin")
        User.objects.filter(pk=admin.pk).update(is_superuser=True)
        client.force_login(admin)

    path = _path(route, ids)
    for method in ("get", "post"):
        sign_in()
        with reads_of_parameters() as read:
            getattr(client, method)(path)
        for variant, headers in HEADERS.items():
            for key in sorted(read):
                sign_in()
                response = getattr(client, method)(path, {key: PAYLOAD}, headers=headers)
                _assert_not_reflected(response, f"{method.upper()} {path} {key}= ({variant})")
            sign_in()
            every = dict.fromkeys(sorted(read | set(KNOWN_FIELDS)), PAYLOAD)
            response = getattr(client, method)(path, every, headers=headers)
            _assert_not_reflected(response, f"{method.upper()} {path} with every field ({variant})")
