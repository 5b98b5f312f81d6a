"""Console tests without a lab: the SSH side (consoles.ssh_pty.open_pty, the one place a console
reaches a host) is replaced by a fake terminal that echoes, and the WebSocket is driven by
channels' WebsocketCommunicator against the real ASGI application (auth middleware included)."""

import queue
import threading

import pytest

from core.choices import EventSource
from core.transitions import transition
from vms import services as vm_services


class FakePty:
    """Echoes what is typed; `exit N` (then Enter) ends with status N; records resizes."""

    opened: list["FakePty"] = []

    def __init__(self, host, command, cols, rows, term):
        self.host, self.command, self.size, self.term = host, command, (cols, rows), term
        self.resizes = []
        self.closed = threading.Event()
        self._inbox = queue.Queue()
        FakePty.opened.append(self)

    def start(self, on_output, on_exit):
        self._on_output, self._on_exit = on_output, on_exit
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        self._on_output(b"localhost:~# ")
        line = b""
        while (data := self._inbox.get()) is not None:
            self._on_output(data)
            # Ctrl-C drops the line typed so far, as a shell does.
            line = b"" if b"\x03" in data else line + data
            if line.endswith((b"\r", b"\n")):
                command, line = line.strip(), b""
                if command.startswith(b"exit"):
                    self._on_exit(int(command.split()[1]) if b" " in command else 0)
                    return

    def write(self, data):
        self._inbox.put(data)

    def resize(self, cols, rows):
        self.resizes.append((cols, rows))

    def close(self):
        self.closed.set()
        self._inbox.put(None)


@pytest.fixture
def fake_pty(monkeypatch):
    FakePty.opened = []
    monkeypatch.setattr("consoles.ssh_pty.open_pty", FakePty)
    return FakePty


@pytest.fixture
def running_vm(owner, template):
    vm = vm_services.instantiate(owner, "Alpine", name="web", nics=["dc-public"])
    transition(vm, "RUNNING", {"PENDING"}, source=EventSource.JOB, reason="up")
    vm.refresh_from_db()
    return vm
