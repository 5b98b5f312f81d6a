"""One SSH channel with a pseudo-terminal on a host, bridged to the consumer's event loop.

paramiko blocks and a console lives for hours, so each bridge has two threads of its own (not a
shared pool, which long sessions would exhaust): a reader that hands every chunk of output to a
callback and waits until it is sent (a slow client then slows the host's output instead of
filling the portal's memory), and a writer that feeds keystrokes and resizes to the channel in
order, so the event loop never waits on a host. The tests replace `open_pty`: it is the one
place a console reaches a host.

A console is a channel on the web process's warm connection to the host (hostexec.ssh_pool,
as VM work in a worker): a second console, or `onevm ssh -- CMD`, to the same host opens no new
SSH connection. The pool counts the console as a user while it lasts, so the connection is not
closed as idle under it; past MAX_CHANNELS at once a console gets a connection of its own.
"""

import queue
import threading
from contextlib import ExitStack

import paramiko

from hostexec.ssh import HostUnreachable, SSHError
from vms import lxc

READ_CHUNK = 32 * 1024
CONNECT_TIMEOUT = 10.0


class PtyBridge:
    def __init__(self, lease: ExitStack, channel):
        self._lease = lease  # holds the warm connection (ssh_pool.session) until close
        self._channel = channel
        self._outbox: queue.Queue = queue.Queue()
        self._closed = threading.Event()

    def start(self, on_output, on_exit) -> None:
        """on_output(bytes) for each chunk and, once, on_exit(status or None: connection lost),
        both called from the reader thread."""
        self._on_output, self._on_exit = on_output, on_exit
        threading.Thread(target=self._read, name="console-read", daemon=True).start()
        threading.Thread(target=self._write, name="console-write", daemon=True).start()

    def write(self, data: bytes) -> None:
        self._outbox.put(("data", data))

    def resize(self, cols: int, rows: int) -> None:
        self._outbox.put(("resize", cols, rows))

    def close(self) -> None:
        """End the channel (the remote shell gets SIGHUP) and give the connection back to the
        pool; idempotent."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._outbox.put(None)
        self._channel.close()
        self._lease.close()

    def _read(self) -> None:
        try:
            while True:
                data = self._channel.recv(READ_CHUNK)
                if not data:
                    break
                self._on_output(data)
        except (OSError, EOFError, paramiko.SSHException):
            pass
        if self._closed.is_set():
            return  # ended from the portal's side, which already knows why
        # The exit status comes in its own message, just before or after the end of output; none
        # within a moment means the connection went.
        status = self._channel.exit_status if self._channel.status_event.wait(2.0) else None
        if not self._closed.is_set():
            self._on_exit(status)

    def _write(self) -> None:
        while (item := self._outbox.get()) is not None:
            try:
                if item[0] == "data":
                    self._channel.sendall(item[1])
                else:
                    self._channel.resize_pty(width=item[1], height=item[2])
            except (OSError, EOFError, paramiko.SSHException):
                return  # the reader sees the channel end and reports it


def open_pty(host, command: str | None, cols: int, rows: int, term: str) -> PtyBridge:
    """On the warm connection to the host (pinned key, the provision's key pair; opened if
    there is none), make a PTY of cols x rows and run `command` in it (None: the login shell).
    Raises SSHError subclasses: HostUnreachable for a host that does not answer,
    HostKeyMismatch / SSHAuthFailed for one that is not itself."""
    with ExitStack() as stack:
        session = stack.enter_context(lxc.warm_session(host, wait=0))
        try:
            transport = session.client.get_transport() if session.client is not None else None
            if transport is None:  # closed between the pool's check and now
                raise paramiko.SSHException("the connection was closed")
            channel = transport.open_session(timeout=CONNECT_TIMEOUT)
            channel.get_pty(term=term, width=cols, height=rows)
            if command is None:
                channel.invoke_shell()
            else:
                channel.exec_command(command)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            # An SSHError leaving the pool's session: it drops the connection.
            raise HostUnreachable(f"host {host.name} did not open a terminal: {exc}") from None
        # The console outlives this call by hours: PtyBridge.close gives the connection back.
        return PtyBridge(stack.pop_all(), channel)


__all__ = ["PtyBridge", "SSHError", "open_pty"]
