"""The VM page's console in a real browser (Debian's chromium driven by Playwright) against the
portal served over ASGI (WebSockets) and a real lab VM: connect, run a command, resize the
window and see the remote terminal's size follow."""

import re
import time

import pytest

from consoles.choices import Via
from consoles.models import ConsoleSession
from tests.browser import lab_page
from tests.lab.conftest import require_lab
from tests.lab.console_fixtures import alpine_test, asgi_url  # noqa: F401 - fixtures

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(lab_world):
    require_lab()
    with lab_page(timeout_ms=30_000, viewport={"width": 1280, "height": 900}) as page:
        yield page


def screen_text(page) -> str:
    """What the terminal shows, row by row (xterm.js's DOM renderer: one div per row)."""
    return page.locator("#vm-console .xterm-rows").inner_text()


def stty_sizes(page) -> list[tuple[int, int]]:
    return [
        (int(rows), int(cols))
        for rows, cols in re.findall(r"^(\d+) (\d+)\s*$", screen_text(page), flags=re.M)
    ]


def wait_for(check, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not seen within {timeout} s: {what}")


def test_the_vm_page_console_runs_commands_and_follows_the_window(
    page,
    alpine_test,  # noqa: F811
    asgi_url,  # noqa: F811
    owner,
):
    from playwright.sync_api import expect

    page.goto(asgi_url + "/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "pw-alice-123")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Dashboard")

    page.goto(asgi_url + f"/vms/{alpine_test.pk}/")
    console = page.locator("#vm-console")
    expect(console.locator(".console-status")).to_have_text("not connected")
    page.click("#vm-console [data-console-connect]")
    expect(console).to_have_attribute("data-state", "connected")
    expect(console.locator(".xterm-rows")).to_contain_text("localhost:")
    page.keyboard.type("cat /etc/os-release")
    page.keyboard.press("Enter")
    expect(console.locator(".xterm-rows")).to_contain_text("ID=alpine")

    page.keyboard.type("clear; stty size")
    page.keyboard.press("Enter")
    before = wait_for(lambda: stty_sizes(page), "the first stty size")[-1]
    page.set_viewport_size({"width": 800, "height": 600})
    time.sleep(0.5)  # the page fits the terminal 100 ms after the last resize event
    page.keyboard.type("clear; stty size")
    page.keyboard.press("Enter")
    after = wait_for(lambda: [s for s in stty_sizes(page) if s != before], "a changed stty size")[
        -1
    ]
    assert after[0] < before[0] and after[1] < before[1], (before, after)

    page.click("#vm-console [data-console-disconnect]")
    expect(console.locator(".console-status")).to_contain_text("disconnected")
    session = wait_for(lambda: ConsoleSession.objects.filter(ended_at__isnull=False).first(), "end")
    assert session.via == Via.BROWSER and session.vm == alpine_test
    page.reload()
    expect(page.locator("#console-sessions")).to_contain_text("client disconnected")
