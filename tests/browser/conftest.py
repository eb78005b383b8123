"""Headless Chromium (Debian's package) driven by Playwright, against pytest-django's live server."""

import os
import shutil

import pytest
from django.test import Client

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def browser():
    """Chromium for one module of browser tests. Not for the session: Playwright's sync API keeps an
    event loop running in this thread while it is open, and the socket and ASGI tests that pytest-django
    runs after (with the other transactional tests) need this thread free of one."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("SOCIALCRM_REQUIRE_BROWSER"):
            pytest.fail("chromium is not installed: apt-get install chromium")
        pytest.skip("chromium is not installed (apt-get install chromium); CI installs it")
    # Playwright's sync API runs an event loop in this thread; the ORM calls made by test setup
    # are still plain synchronous code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 860})
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def wait_until(page, expression: str, *, timeout: float = 10.0) -> None:
    """Wait for a JavaScript expression to be true on the page.

    Playwright's wait_for_function evaluates its predicate with eval inside the page, which the
    Content-Security-Policy forbids (no 'unsafe-eval'); page.evaluate goes through DevTools instead,
    so the pages are tested under the policy they really have.
    """
    import time

    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout} s: {expression}")
        time.sleep(0.05)


@pytest.fixture
def signed_in(browser, asgi_server):
    """signed_in(user): a page in a browser context of its own, signed in as `user`; closed after the test."""
    contexts = []

    def sign_in(user):
        context = browser.new_context(base_url=asgi_server, viewport={"width": 1400, "height": 860})
        contexts.append(context)
        client = Client()  # a session made here: the server hashes passwords differently from this process
        client.force_login(user)
        context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": asgi_server}])
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        return page

    yield sign_in
    for context in contexts:
        context.close()
