"""Every page works under the Content-Security-Policy: Chromium reports no violation anywhere.

The policy allows nothing inline and nothing from another origin, so a page that needs an inline
script or style, or a library that evaluates strings, shows up here as a violation.
"""

import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client
from django.urls import get_resolver, reverse

from inbox.models import Message
from inbox.services.triage import triage_messages
from profiles.services import merge_customers
from tests.browser.test_first_screen import sign_in
from tests.factories import ensure_migrated_data, make_conversation, make_customer, make_user
from tests.helpers import walk

# Collected by the page itself: DevTools' init scripts are not subject to the page's policy.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`);
});
"""


@pytest.fixture
def a_working_floor(transactional_db):
    ensure_migrated_data()
    boss = make_user("ada", role="admin")
    boss.is_superuser = True
    boss.save(update_fields=["is_superuser"])
    conversation = make_conversation("service", text="My bill doubled this month")
    make_conversation("service", text="No signal in Leeds", customer=conversation.customer)
    merge = merge_customers(keep=conversation.customer, merge=make_customer("Twin"), by=None)
    triage_messages(message_ids=list(Message.objects.values_list("pk", flat=True)))  # the customer's chart
    return {
        "conversation_id": conversation.pk,
        "message_id": Message.objects.filter(conversation=conversation).first().pk,
        "customer_id": conversation.customer_id,
        "merge_id": merge.pk,
    }


def _pages(ids: dict) -> list[str]:
    """Every page one opens with GET: our views with real ids, admin's index, each list, add and change page."""
    pages = []
    for name, route in walk(get_resolver()):
        if not name or name.startswith(("admin:", "api-", "webhook-")) or "logout" in name or "(?P" in route:
            continue
        if "<slug:" in route:  # the settings pages: each kind is added below
            continue
        path = re.sub(r"<int:(\w+)>", lambda match: str(ids[match.group(1)]), route)
        if "<" not in path:
            pages.append("/" + path)
    for kind in ("canned-replies", "labels", "macros"):
        pages += [f"/settings/{kind}/", f"/settings/{kind}/new"]
    pages.append(reverse("admin:index"))
    for model, model_admin in admin.site._registry.items():
        info = model._meta.app_label, model._meta.model_name
        pages.append(reverse("admin:{}_{}_changelist".format(*info)))
        if model_admin.has_add_permission(_Superuser()):
            pages.append(reverse("admin:{}_{}_add".format(*info)))
        first = model.objects.order_by("pk").first()
        if first is not None:
            pages.append(reverse("admin:{}_{}_change".format(*info), args=[first.pk]))
    return sorted(set(pages))


class _Superuser:
    """Enough of a request for ModelAdmin.has_add_permission."""

    class user:
        is_active = is_staff = is_superuser = True

        @staticmethod
        def has_perm(permission, obj=None):
            return True


def _violations(page) -> list[str]:
    return page.evaluate("window.__violations || []")


def test_every_page_loads_under_the_policy_without_a_violation(page, a_working_floor):
    page.add_init_script(RECORD_VIOLATIONS)
    console = []
    page.on("console", lambda message: console.append(message.text))
    sign_in(page, login="ada")
    found = {}
    client = Client()
    client.force_login(User.objects.get(username="ada"))
    for path in _pages(a_working_floor):
        answer = client.get(path)
        if answer.status_code == 405:  # a door for POSTs only
            continue
        if answer.get("Content-Disposition", "").startswith("attachment"):  # a download (CSV), not a page
            continue
        if answer.status_code == 301 and answer.url.startswith("/static/"):  # /favicon.ico: a file, not a page
            continue
        response = page.goto(path)
        assert response.status < 500, f"{path} answered {response.status}"
        assert "default-src 'self'" in (response.headers.get("content-security-policy") or ""), path
        page.wait_for_load_state("load")
        if _violations(page):
            found[path] = _violations(page)
    found["console"] = [text for text in console if "Content Security Policy" in text]
    assert found == {"console": []}


def test_the_inbox_works_under_the_policy(page, a_working_floor):
    """htmx swaps the pane and the list, the chart draws, the rule tester answers: all without a violation."""
    page.add_init_script(RECORD_VIOLATIONS)
    sign_in(page, login="ada")
    page.goto("/inbox/")
    page.locator("#conversation-list .row a").first.click()
    page.locator("#conversation-title").wait_for()
    page.get_by_label("Internal note").fill("Checked under the policy")
    page.get_by_role("button", name="Add note").click()
    page.get_by_text("Checked under the policy").wait_for()
    assert _violations(page) == []

    page.goto(f"/customers/{a_working_floor['customer_id']}/")
    page.locator("canvas").first.wait_for()
    assert page.evaluate("Boolean(window.Chart)")
    assert _violations(page) == []

    page.goto(reverse("admin:triage_routingrule_try"))
    page.locator("textarea").first.fill("My phone died after the update")
    page.get_by_role("button", name="Try").click()
    page.get_by_text("What triage decides").wait_for()
    assert _violations(page) == []


def test_the_api_reference_draws_under_the_policy(page, a_working_floor):
    """Swagger UI (from npm) reads the OpenAPI document and draws each operation, with no violation."""
    page.add_init_script(RECORD_VIOLATIONS)
    console = []
    page.on("console", lambda message: console.append(message.text))

    page.goto("/api/v1/docs")

    page.get_by_text("/api/v1/channels/{slug}/mentions").first.wait_for()
    assert page.locator("#api-reference .opblock").count() >= 4
    assert _violations(page) == [] and [text for text in console if "Content Security Policy" in text] == []
