"""Headless Chromium (Debian's package) driven by Playwright, against pytest-django's live server."""

import os
import shutil

import pytest

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


@pytest.fixture
def asgi_server(transactional_db):
    """Daphne serving the app (WebSockets included) on the test database, in a process of its own.

    It needs PostgreSQL and Redis: the test's own process publishes events (a colleague's action)
    that the server's sockets must receive, through the Redis channel layer. CI runs it.
    """
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    from django.conf import settings
    from django.db import connection

    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        pytest.skip("the live browser test needs PostgreSQL and Redis (CI runs it)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "false", "ALLOWED_HOSTS": "127.0.0.1,localhost"}
    root = Path(__file__).resolve().parents[2]
    server = subprocess.Popen(  # noqa: S603 - our own app under Daphne
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "socialcrm.asgi:application"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(root / "test-results" / "daphne.log").open("w") if (root / "test-results").is_dir() else None,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    else:
        server.kill()
        pytest.fail("daphne did not start (its log: test-results/daphne.log)")
    # A worker triages what arrives, and triage publishes the row. It loads the models from the
    # database, which earlier tests may have emptied: the seed versions go back first.
    from triage.learning import ensure_seed_versions

    ensure_seed_versions()
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "socialcrm", "worker", "--pool", "solo", "--loglevel", "INFO"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(root / "test-results" / "worker.log").open("w") if (root / "test-results").is_dir() else None,
    )
    yield f"http://127.0.0.1:{port}"
    for process in (server, worker):
        process.terminate()
    for process in (server, worker):
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:  # a shutdown that hangs is a bug to see, but not to leave running
            process.kill()
            raise


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
