"""Debian's Chromium for the browser tests (Playwright drives it; it never downloads one)."""

import os
import shutil
from contextlib import contextmanager

from django.conf import settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying to reach Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def logged_in_page(live_server, client, user, timeout_ms: int = 20_000):
    """A Chromium page of the live portal, logged in as `user` (the test client's session
    cookie handed over), with the page's JavaScript errors in `page.errors`; skipped without
    Debian's chromium or Playwright. No lab needed."""
    import pytest

    if not os.path.exists(CHROMIUM):
        pytest.skip("BROWSER TEST SKIPPED: needs Debian's chromium (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between browser steps are still plain synchronous calls.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with playwright_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context()
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
            )
            page = context.new_page()
            page.set_default_timeout(timeout_ms)
            page.errors = []
            page.on("pageerror", lambda exc: page.errors.append(str(exc)))
            try:
                yield page
            finally:
                browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@contextmanager
def lab_page(timeout_ms: int, **page_options):
    """A Chromium page for the lab's browser tests (a live portal on the simulator and lab
    hosts): with EDGE_LAB_REQUIRED=1 a missing chromium fails the test instead of skipping it."""
    import pytest

    if not os.path.exists(CHROMIUM):
        message = "the browser test needs Debian's chromium (apt-get install chromium)"
        if os.environ.get("EDGE_LAB_REQUIRED") == "1":
            pytest.fail(message)
        pytest.skip("BROWSER TEST SKIPPED: " + message)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between browser steps are still plain synchronous calls.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(**page_options)
                page.set_default_timeout(timeout_ms)
                yield page
            finally:
                browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
