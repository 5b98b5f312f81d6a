"""The VM page's console script in a real browser (Debian's chromium) against the portal over
ASGI in this process, the host's side faked: Connect, keystrokes out and output in, a window
resize becoming a resize message, Disconnect. tests/lab/test_console_browser.py runs the same
page against a real container."""

import os
import time

import pytest

from consoles.models import ConsoleSession
from tests.asgi_server import serving
from tests.browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def page():
    if not os.path.exists(CHROMIUM):
        pytest.skip("BROWSER TEST SKIPPED: needs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # ORM calls between browser steps
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(15_000)
        yield page
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def test_the_page_connects_types_resizes_and_disconnects(page, owner, running_vm, fake_pty):
    from playwright.sync_api import expect

    with serving() as url:
        page.goto(url + "/login/")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", "pw-alice-123")
        page.click("button[type=submit]")
        page.goto(url + f"/vms/{running_vm.pk}/")
        console = page.locator("#vm-console")
        page.click("#vm-console [data-console-connect]")
        expect(console).to_have_attribute("data-state", "connected")
        expect(console.locator(".xterm-rows")).to_contain_text("localhost:~#")
        page.keyboard.type("echo hi")
        expect(console.locator(".xterm-rows")).to_contain_text("localhost:~# echo hi")
        (pty,) = fake_pty.opened
        first = pty.size
        page.set_viewport_size({"width": 700, "height": 500})
        deadline = time.monotonic() + 10
        while not pty.resizes and time.monotonic() < deadline:
            time.sleep(0.05)
        cols, rows = pty.resizes[-1]
        assert cols < first[0] and rows < first[1], (first, pty.resizes)
        # Copy: the selection to the clipboard; Paste: the clipboard to the remote side.
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
        page.evaluate("document.querySelector('#vm-console').edgeTerminal.selectAll()")
        page.click("#vm-console [data-console-copy]")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert "localhost:~# echo hi" in copied
        page.evaluate("navigator.clipboard.writeText(' && echo pasted')")
        page.click("#vm-console [data-console-paste]")
        expect(console.locator(".xterm-rows")).to_contain_text("echo hi && echo pasted")
        page.click("#vm-console [data-console-disconnect]")
        expect(console.locator(".console-status")).to_contain_text("disconnected")
        expect(console.locator("[data-console-connect]")).to_be_enabled()
    session = ConsoleSession.objects.get()
    assert session.via == "BROWSER" and session.end_reason == "CLOSED"
    assert session.bytes_in == len("echo hi && echo pasted")
    assert session.client_address == "127.0.0.1"
