"""`onevm ssh` as a real terminal against real lab hosts: the CLI runs under a pseudo-terminal
(pexpect) and talks to the portal served over ASGI (uvicorn), which opens a PTY on the VM's host
and lxc-attaches into the container. Also over the real WebSocket: an outsider is refused, the
per-user limit holds, and an operator gets a shell on a host with `oneprovision host ssh`."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest
from websockets.sync.client import connect

from consoles.choices import EndReason, Via
from consoles.models import ConsoleSession
from core import console_protocol as protocol
from core.models import ApiToken
from tests.lab.console_fixtures import alpine_test, asgi_url  # noqa: F401 - fixtures
from vms import services as vm_services

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]

BIN = Path(sys.executable).parent
PROMPT = r"localhost:[^\r\n]*# "


def spawn(program, argv, url, token, rows=24, cols=80):
    env = {**os.environ, "PORTAL_URL": url, "PORTAL_TOKEN": token, "TERM": "xterm"}
    return pexpect.spawn(
        str(BIN / program),
        argv,
        env=env,
        dimensions=(rows, cols),
        timeout=30,
        encoding="utf-8",
        codec_errors="replace",
    )


def ws(url, path, token):
    return connect(
        url.replace("http://", "ws://") + path,
        additional_headers={"Authorization": f"Bearer {token}"},
        open_timeout=15,
    )


def until_closed(socket) -> tuple[list[dict], int]:
    """Every control message until the server closes, and the close code."""
    messages = []
    try:
        for frame in socket:
            if isinstance(frame, str):
                messages.append(json.loads(frame))
    except Exception:  # noqa: BLE001, S110 - the close itself
        pass
    return messages, socket.close_code


def until_prompt(socket, deadline_frames=200) -> bytes:
    seen = b""
    for _ in range(deadline_frames):
        frame = socket.recv(timeout=20)
        if isinstance(frame, bytes):
            seen += frame
            if b"# " in seen:
                return seen
    raise AssertionError(f"no prompt in {seen!r}")


def all_ended(timeout: float = 10.0) -> None:
    """Wait until the server has recorded the end of every console closed by the client."""
    deadline = time.monotonic() + timeout
    while ConsoleSession.objects.open().exists():
        assert time.monotonic() < deadline, "a closed console was never recorded as ended"
        time.sleep(0.05)


def test_onevm_ssh_is_a_real_terminal_with_the_remote_exit_status(
    alpine_test,  # noqa: F811
    asgi_url,  # noqa: F811
    owner,
):
    token = ApiToken.issue(owner, "pty")[1]
    child = spawn("onevm", ["ssh", "alpine_test"], asgi_url, token)
    child.expect(PROMPT)
    child.sendline("tty")
    child.expect(r"/dev/pts/\d+")
    child.expect(PROMPT)
    child.sendline("echo TERM=$TERM")
    child.expect("TERM=xterm-256color")
    child.expect(PROMPT)
    # A full-screen program, quit with one key (no Enter: the terminal is raw on both ends).
    child.sendline("top")
    child.expect("Mem:")
    child.send("q")
    child.expect(PROMPT)
    # Ctrl-C reaches the remote program, not this CLI.
    child.sendline("sleep 60")
    child.expect("sleep 60\r")
    time.sleep(0.5)  # sleep running in the foreground, not the shell still reading its line
    child.sendcontrol("c")
    child.expect(PROMPT, timeout=10)
    # SIGWINCH: the local size follows to the remote PTY.
    child.setwinsize(40, 120)
    child.sendline("stty size")
    child.expect("40 120")
    child.expect(PROMPT)
    child.sendline("exit 3")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3

    session = ConsoleSession.objects.get()
    assert session.vm == alpine_test and session.via == Via.CLI
    assert session.end_reason == EndReason.EXITED and session.exit_status == 3
    assert session.client_address == "127.0.0.1"
    assert session.bytes_in > 20 and session.bytes_out > 100


def test_onevm_ssh_with_a_command_keeps_stdout_stderr_and_status(
    alpine_test,  # noqa: F811
    asgi_url,  # noqa: F811
    owner,
):
    env = {**os.environ, "PORTAL_URL": asgi_url, "PORTAL_TOKEN": ApiToken.issue(owner, "x")[1]}
    script = "echo out; echo err >&2; exit 5"
    argv = [str(BIN / "onevm"), "ssh", "alpine_test", "--", "sh", "-c", script]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (5, "out\n", "err\n")


def test_an_outsider_is_refused_and_the_per_user_limit_holds(
    alpine_test,  # noqa: F811
    asgi_url,  # noqa: F811
    owner,
    outsider,
    operator,
    settings,
):
    path = protocol.VM_PATH.format(id=alpine_test.pk)
    with ws(asgi_url, path, ApiToken.issue(outsider, "nosy")[1]) as socket:
        messages, code = until_closed(socket)
    assert messages == [{"type": "error", "message": f"VM {alpine_test.pk} not found"}]
    assert code == protocol.CLOSE_NOT_FOUND

    settings.CONSOLE_MAX_PER_USER = 1
    owner_token = ApiToken.issue(owner, "one")[1]
    with ws(asgi_url, path, owner_token) as first:
        until_prompt(first)
        with ws(asgi_url, path, owner_token) as second:
            messages, code = until_closed(second)
        assert (
            code == protocol.CLOSE_LIMIT
            and "the most one user may hold" in (messages[0]["message"])
        )
        # The limit is each user's own: an operator's console on the same VM opens.
        with ws(asgi_url, path, ApiToken.issue(operator, "op")[1]) as other:
            until_prompt(other)
    # Once the first has ended (recorded as the server sees the close), its place is free again.
    all_ended()
    with ws(asgi_url, path, owner_token) as again:
        until_prompt(again)
    all_ended()
    reasons = sorted(ConsoleSession.objects.values_list("username", "end_reason"))
    assert reasons == [("alice", "CLOSED"), ("alice", "CLOSED"), ("oper", "CLOSED")]

    # A poweroff under an open console ends it with the reason, not a bare disconnect.
    with ws(asgi_url, path, owner_token) as console:
        until_prompt(console)
        vm_services.act(owner, alpine_test, "poweroff")  # JOBS_SYNC: stopped when it returns
        messages, code = until_closed(console)
    assert messages[-1]["type"] == "exit" and messages[-1]["reason"] == "VM_STOPPED", messages
    assert code == protocol.CLOSE_ENDED
    assert ConsoleSession.objects.order_by("-id").first().end_reason == EndReason.VM_STOPPED


def test_an_operator_gets_a_shell_on_a_host_and_a_user_does_not(
    alpine_test,  # noqa: F811
    asgi_url,  # noqa: F811
    owner,
    operator,
):
    host = alpine_test.host
    argv = ["host", "ssh", host.provision.name, host.name]
    child = spawn("oneprovision", argv, asgi_url, ApiToken.issue(operator, "op")[1])
    child.expect("# ")  # the host's root prompt: bash drops what is typed before it
    child.sendline('echo on-host-$((40+2)); ls -d "$ONE_EDGE_BASE"/lxc')
    child.expect("on-host-42")
    child.expect("/lxc")
    child.sendline("exit 0")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert ConsoleSession.objects.get().host == host

    child = spawn("oneprovision", argv, asgi_url, ApiToken.issue(owner, "me")[1])
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 255 and f"host {host.pk} not found" in child.before
