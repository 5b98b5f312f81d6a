"""`onevm ssh` under a real pseudo-terminal (pexpect) against the portal served over ASGI in
this process, the host's side faked (tests/consoles/conftest.py): raw mode, resize, the remote
exit status, and the messages of a refused console. tests/lab/test_console_cli.py does the same
against a real container."""

import os
import sys
from pathlib import Path

import pexpect
import pytest

from consoles.models import ConsoleSession
from core.models import ApiToken
from tests.asgi_server import serving
from vms.models import VM

pytestmark = pytest.mark.django_db(transaction=True)

BIN = Path(sys.executable).parent


@pytest.fixture
def portal_url():
    with serving() as url:
        yield url


def onevm(url, token, *argv):
    env = {**os.environ, "PORTAL_URL": url, "PORTAL_TOKEN": token}
    return pexpect.spawn(
        str(BIN / "onevm"), list(argv), env=env, dimensions=(24, 80), timeout=20, encoding="utf-8"
    )


def test_onevm_ssh_runs_raw_resizes_and_exits_with_the_remote_status(
    portal_url, owner, running_vm, fake_pty
):
    child = onevm(portal_url, ApiToken.issue(owner, "t")[1], "ssh", "web")
    child.expect("localhost:~# ")
    # Raw mode: a key goes at once, without Enter, and Ctrl-C is a byte for the remote side.
    child.send("x")
    child.expect("x")
    child.sendcontrol("c")
    child.setwinsize(40, 120)
    child.send("exit 3\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3
    (pty,) = fake_pty.opened
    assert pty.size == (80, 24) and pty.resizes == [(120, 40)]
    session = ConsoleSession.objects.get()
    assert session.bytes_in == len("x\x03exit 3\r") and session.exit_status == 3


def test_onevm_ssh_says_why_a_console_is_refused(portal_url, owner, outsider, running_vm, fake_pty):
    VM.objects.filter(pk=running_vm.pk).update(state="POWEROFF")
    child = onevm(portal_url, ApiToken.issue(owner, "t")[1], "ssh", "web")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 255
    assert "onevm: VM web is POWEROFF, not RUNNING" in child.before
    # An outsider does not get as far: the API already answers "not found" for the name.
    child = onevm(portal_url, ApiToken.issue(outsider, "t")[1], "ssh", str(running_vm.pk))
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1 and f"VM {running_vm.pk} not found" in child.before
    assert not fake_pty.opened
