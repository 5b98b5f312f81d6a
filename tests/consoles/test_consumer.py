"""The console WebSocket without a lab (tests/consoles/conftest.py fakes the host's terminal):
who may open one, what refusals say, the per-user limit, the deadlines, the audit row."""

import asyncio
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from consoles.choices import EndReason, Via
from consoles.models import ConsoleSession
from core import console_protocol as protocol
from core.models import ApiToken
from hostexec.ssh import HostUnreachable
from portal.asgi import application
from tests.consoles.communicator import WebsocketCommunicator
from vms.models import VM, VMJob

pytestmark = pytest.mark.django_db(transaction=True)


def token_headers(user):
    return [(b"authorization", f"Bearer {ApiToken.issue(user, 'ws')[1]}".encode())]


def cookie_headers(client, user, origin="http://testserver"):
    client.force_login(user)
    headers = [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]
    return headers + ([(b"origin", origin.encode())] if origin else [])


async def opened(path, headers, address="203.0.113.5"):
    communicator = WebsocketCommunicator(application, path, headers, client=(address, 50000))
    accepted, code = await communicator.connect(timeout=5)
    return communicator, accepted, code


async def until(communicator, predicate, timeout=5.0):
    """Frames received until one satisfies predicate (returned last)."""
    frames = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        frame = await communicator.receive_output(timeout=max(0.1, deadline - loop.time()))
        frames.append(frame)
        if predicate(frame):
            return frames


def is_close(frame):
    return frame["type"] == "websocket.close"


def text(frames, kind):
    return [json.loads(f["text"]) for f in frames if f.get("text") and kind in f["text"]]


def output(frames) -> bytes:
    return b"".join(f.get("bytes") or b"" for f in frames)


def vm_path(vm_id, query="?cols=100&rows=30"):
    return protocol.VM_PATH.format(id=vm_id) + query


def run(coroutine):
    return asyncio.run(coroutine)


def test_owner_with_a_token_gets_a_terminal_in_the_container_and_its_exit_status(
    owner, running_vm, fake_pty
):
    headers = token_headers(owner)

    async def scenario():
        ws, accepted, _ = await opened(vm_path(running_vm.pk), headers)
        assert accepted
        frames = await until(ws, lambda f: b"localhost:~# " in (f.get("bytes") or b""))
        assert text(frames, "connected")[0]["message"].startswith("connected to VM web")
        await ws.send_to(text_data=protocol.resize(120, 40))
        await ws.send_to(bytes_data=b"exit 3\r")
        frames = await until(ws, is_close)
        return frames

    frames = run(scenario())
    assert b"exit 3\r" in output(frames)
    assert text(frames, '"exit"')[0] == {
        "type": "exit",
        "status": 3,
        "reason": "EXITED",
        "message": "exited with status 3",
    }
    assert frames[-1]["code"] == protocol.CLOSE_NORMAL
    (pty,) = fake_pty.opened
    assert pty.size == (100, 30) and pty.resizes == [(120, 40)]
    assert pty.term == "xterm-256color" and pty.host == running_vm.host
    # lxc-attach into this VM's container, the name quoted, the host's environment cleared.
    assert f'lxc-attach -P "${{ONE_EDGE_BASE:-/var/lib/one-edge}}/lxc" -n one-{running_vm.pk} ' in (
        pty.command
    )
    assert "--clear-env" in pty.command and "--set-var TERM=xterm-256color" in pty.command
    session = ConsoleSession.objects.get()
    assert session.owner == owner and session.vm == running_vm and session.via == Via.CLI
    assert session.client_address == "203.0.113.5" and session.ended_at is not None
    assert session.end_reason == EndReason.EXITED and session.exit_status == 3
    assert session.bytes_in == len(b"exit 3\r")
    assert session.bytes_out == len(b"localhost:~# exit 3\r")


def test_an_outsider_gets_the_same_not_found_as_for_a_vm_that_does_not_exist(
    outsider, running_vm, fake_pty
):
    headers = token_headers(outsider)

    async def attempt(vm_id):
        ws, accepted, _ = await opened(vm_path(vm_id), headers)
        assert accepted  # accepted only to say why, then closed
        return await until(ws, is_close)

    foreign = run(attempt(running_vm.pk))
    missing = run(attempt(running_vm.pk + 1000))
    assert text(foreign, "error") == [{"type": "error", "message": f"VM {running_vm.pk} not found"}]
    assert text(missing, "error") == [
        {"type": "error", "message": f"VM {running_vm.pk + 1000} not found"}
    ]
    assert foreign[-1]["code"] == missing[-1]["code"] == protocol.CLOSE_NOT_FOUND
    assert not fake_pty.opened and not ConsoleSession.objects.exists()


def test_a_wrong_token_is_refused_and_never_falls_back_to_the_session_cookie(
    client, owner, running_vm, fake_pty
):
    headers = cookie_headers(client, owner) + [(b"authorization", b"Bearer ep_not-a-token")]

    async def scenario():
        ws, _, _ = await opened(vm_path(running_vm.pk), headers)
        return await until(ws, is_close)

    frames = run(scenario())
    assert "revoked API token" in text(frames, "error")[0]["message"]
    assert frames[-1]["code"] == protocol.CLOSE_UNAUTHENTICATED
    assert not fake_pty.opened


def test_the_session_cookie_works_only_from_the_portals_own_origin(
    client, owner, running_vm, fake_pty
):
    async def attempt(headers):
        ws, accepted, code = await opened(vm_path(running_vm.pk), headers)
        if accepted:
            await until(ws, lambda f: b"localhost:~#" in (f.get("bytes") or b""))
            await ws.disconnect()
        return accepted

    # Another site's page would carry the cookie too: its Origin gives it away.
    assert not run(attempt(cookie_headers(client, owner, origin="http://evil.example")))
    assert not run(attempt(cookie_headers(client, owner, origin=None)))
    assert not fake_pty.opened
    assert run(attempt(cookie_headers(client, owner)))
    session = ConsoleSession.objects.get()
    assert session.via == Via.BROWSER and session.end_reason == EndReason.CLOSED


def test_a_vm_that_is_not_running_gets_a_clear_message(owner, running_vm, fake_pty):
    VM.objects.filter(pk=running_vm.pk).update(state="POWEROFF")
    headers = token_headers(owner)

    async def scenario():
        ws, _, _ = await opened(vm_path(running_vm.pk), headers)
        return await until(ws, is_close)

    frames = run(scenario())
    assert text(frames, "error")[0]["message"] == (
        "VM web is POWEROFF, not RUNNING: a console needs a running VM (resume it first)"
    )
    assert frames[-1]["code"] == protocol.CLOSE_NOT_RUNNING
    assert not fake_pty.opened


def test_an_unreachable_host_gets_a_clear_message_and_an_audit_row(owner, running_vm, monkeypatch):
    def unreachable(host, *args):
        raise HostUnreachable(f"cannot reach {host.public_ip}:22 over SSH: timed out")

    monkeypatch.setattr("consoles.ssh_pty.open_pty", unreachable)
    headers = token_headers(owner)

    async def scenario():
        ws, _, _ = await opened(vm_path(running_vm.pk), headers)
        return await until(ws, is_close)

    frames = run(scenario())
    (ended,) = text(frames, '"exit"')
    assert ended["reason"] == "HOST_UNREACHABLE"
    assert ended["message"] == (
        f"cannot open a console on {running_vm.host.name}: "
        f"cannot reach {running_vm.host.public_ip}:22 over SSH: timed out"
    )
    assert frames[-1]["code"] == protocol.CLOSE_UNREACHABLE
    assert ConsoleSession.objects.get().end_reason == EndReason.HOST_UNREACHABLE


def test_the_per_user_limit_holds_and_frees_a_place_when_a_session_ends(
    settings, owner, outsider, running_vm, fake_pty
):
    settings.CONSOLE_MAX_PER_USER = 2
    headers = token_headers(owner)

    async def prompt(ws):
        await until(ws, lambda f: b"localhost:~#" in (f.get("bytes") or b""))

    async def scenario():
        first, _, _ = await opened(vm_path(running_vm.pk), headers)
        await prompt(first)
        second, _, _ = await opened(vm_path(running_vm.pk), headers)
        await prompt(second)
        third, _, _ = await opened(vm_path(running_vm.pk), headers)
        refused = await until(third, is_close)
        await first.disconnect()
        await asyncio.sleep(0.2)  # its end is recorded
        fourth, _, _ = await opened(vm_path(running_vm.pk), headers)
        await prompt(fourth)
        await second.disconnect()
        await fourth.disconnect()
        return refused

    refused = run(scenario())
    assert refused[-1]["code"] == protocol.CLOSE_LIMIT
    assert text(refused, "error")[0]["message"] == (
        "you already have 2 console session(s) open, the most one user may hold at once is 2: "
        "close one first"
    )
    assert len(fake_pty.opened) == 3
    assert all(pty.closed.is_set() for pty in fake_pty.opened)
    assert ConsoleSession.objects.count() == 3 and not ConsoleSession.objects.open().exists()


def test_a_session_left_by_a_dead_process_stops_counting(settings, owner, running_vm, fake_pty):
    settings.CONSOLE_MAX_PER_USER = 1
    settings.CONSOLE_BEAT_SECONDS = 5
    stale = ConsoleSession.objects.create(owner=owner, username="alice", target="x", via="CLI")
    ConsoleSession.objects.filter(pk=stale.pk).update(
        seen_at=timezone.now() - timedelta(seconds=16)
    )
    headers = token_headers(owner)

    async def scenario():
        ws, _, _ = await opened(vm_path(running_vm.pk), headers)
        frames = await until(
            ws, lambda f: b"localhost:~#" in (f.get("bytes") or b"") or is_close(f)
        )
        await ws.disconnect()
        return frames

    assert not is_close(run(scenario())[-1])
    stale.refresh_from_db()
    assert stale.end_reason == EndReason.LOST and stale.ended_at == stale.seen_at


def test_idle_and_maximum_length_end_the_session_with_their_reason(
    settings, owner, running_vm, fake_pty
):
    headers = token_headers(owner)

    async def scenario():
        ws, _, _ = await opened(vm_path(running_vm.pk), headers)
        return await until(ws, is_close)

    settings.CONSOLE_IDLE_SECONDS = 0.3
    frames = run(scenario())
    assert text(frames, '"exit"')[0]["message"] == (
        "no keystroke for 0.3 s: the console closed (idle timeout)"
    )
    settings.CONSOLE_IDLE_SECONDS, settings.CONSOLE_MAX_SECONDS = 60, 0.3
    frames = run(scenario())
    assert text(frames, '"exit"')[0]["reason"] == "MAX_LENGTH"
    assert frames[-1]["code"] == protocol.CLOSE_ENDED
    reasons = list(ConsoleSession.objects.order_by("id").values_list("end_reason", flat=True))
    assert reasons == [EndReason.IDLE, EndReason.MAX_LENGTH]
    assert all(pty.closed.is_set() for pty in fake_pty.opened)


def test_the_session_ends_cleanly_when_the_vm_stops(settings, owner, running_vm, fake_pty):
    settings.CONSOLE_BEAT_SECONDS = 0.1
    headers = token_headers(owner)

    async def scenario():
        ws, _, _ = await opened(vm_path(running_vm.pk), headers)
        await until(ws, lambda f: b"localhost:~#" in (f.get("bytes") or b""))
        # Monitoring (or a poweroff job) moved the VM out of RUNNING.
        await asyncio.to_thread(
            lambda: VM.objects.filter(pk=running_vm.pk).update(state="POWEROFF")
        )
        return await until(ws, is_close)

    frames = run(scenario())
    assert text(frames, '"exit"')[0]["message"] == "the VM stopped: the console closed"
    assert fake_pty.opened[0].closed.is_set()
    assert ConsoleSession.objects.get().end_reason == EndReason.VM_STOPPED


def test_a_shell_ended_by_a_poweroff_is_reported_as_the_vm_stopping(owner, running_vm, fake_pty):
    headers = token_headers(owner)

    async def scenario():
        ws, _, _ = await opened(vm_path(running_vm.pk), headers)
        await until(ws, lambda f: b"localhost:~#" in (f.get("bytes") or b""))
        # The poweroff job was asked for; the container's end kills the shell (status 137).
        await asyncio.to_thread(lambda: VMJob.objects.create(vm=running_vm, action="poweroff"))
        fake_pty.opened[0]._on_exit(137)
        return await until(ws, is_close)

    frames = run(scenario())
    assert text(frames, '"exit"')[0]["reason"] == "VM_STOPPED"
    assert ConsoleSession.objects.get().end_reason == EndReason.VM_STOPPED


def test_host_consoles_are_for_operators_only(owner, operator, running_vm, fake_pty):
    host = running_vm.host
    path = protocol.HOST_PATH.format(id=host.pk)

    async def attempt(headers, until_frame):
        ws, _, _ = await opened(path, headers)
        frames = await until(ws, until_frame)
        await ws.disconnect()
        return frames

    refused = run(attempt(token_headers(owner), is_close))
    assert text(refused, "error")[0]["message"] == f"host {host.pk} not found"
    assert not fake_pty.opened
    run(attempt(token_headers(operator), lambda f: b"localhost:~#" in (f.get("bytes") or b"")))
    (pty,) = fake_pty.opened
    assert pty.host == host and pty.command is None  # the host's own login shell
    session = ConsoleSession.objects.get()
    assert session.host == host and session.vm is None and session.owner == operator
