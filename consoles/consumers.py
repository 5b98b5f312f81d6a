"""The console WebSocket: one SSH channel with a PTY per connection (core.console_protocol says what
the frames carry). The connection is accepted first, so that every refusal reaches the client as
a message before the close (a refused handshake would only say 403)."""

import asyncio
import logging
import time
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from consoles import services, ssh_pty, targets
from consoles.auth import scope_address
from consoles.choices import EndReason
from core import console_protocol as protocol
from hostexec.ssh import SSHError

log = logging.getLogger(__name__)

TERM = "xterm-256color"
ENDING_MESSAGES = {
    EndReason.IDLE: "no keystroke for {idle:g} s: the console closed (idle timeout)",
    EndReason.MAX_LENGTH: "the console reached its maximum length of {max:g} s",
    EndReason.VM_STOPPED: "the VM stopped: the console closed",
}


def _sync(func):
    return database_sync_to_async(func)


class ConsoleConsumer(AsyncWebsocketConsumer):
    kind = "vm"

    async def connect(self):
        self.ended = False
        self.client_gone = False
        self.bridge = None
        self.record = None
        self.watchdog = None
        self.bytes_in = self.bytes_out = 0
        await self.accept()
        user = self.scope.get("user")
        problem = self.scope.get("auth_problem")
        if problem or user is None or not user.is_authenticated:
            return await self.refuse(protocol.CLOSE_UNAUTHENTICATED, problem or "log in first")
        query = parse_qs(self.scope.get("query_string", b"").decode("latin1"))
        cols = protocol.clamp_size(query.get("cols", [None])[0], protocol.DEFAULT_COLS)
        rows = protocol.clamp_size(query.get("rows", [None])[0], protocol.DEFAULT_ROWS)
        pk = self.scope["url_route"]["kwargs"]["pk"]
        try:
            self.target = await _sync(targets.find)(self.kind, user, pk, TERM)
        except targets.NotFound as exc:
            return await self.refuse(protocol.CLOSE_NOT_FOUND, str(exc))
        except targets.NotRunning as exc:
            return await self.refuse(protocol.CLOSE_NOT_RUNNING, str(exc))
        try:
            self.record = await _sync(services.open_session)(
                user, self.target, scope_address(self.scope), self.scope["console_via"]
            )
        except services.LimitReached as exc:
            return await self.refuse(protocol.CLOSE_LIMIT, str(exc))
        self.started_at = timezone.now()
        await self.send(text_data=protocol.status(f"connecting to {self.target.label}"))
        try:
            self.bridge = await asyncio.to_thread(
                ssh_pty.open_pty, self.target.host, self.target.command, cols, rows, TERM
            )
        except SSHError as exc:
            message = f"cannot open a console on {self.target.host.name}: {exc}"
            return await self.end(EndReason.HOST_UNREACHABLE, None, message)
        self.loop = asyncio.get_running_loop()
        self.opened = self.last_input = time.monotonic()
        await self.send(text_data=protocol.status(f"connected to {self.target.label}", "connected"))
        self.bridge.start(on_output=self._output_from_thread, on_exit=self._exit_from_thread)
        self.watchdog = asyncio.create_task(self._watch())

    async def refuse(self, code: int, message: str):
        await self.send(text_data=protocol.error(message))
        await self.close(code)

    async def receive(self, text_data=None, bytes_data=None):
        if self.bridge is None or self.ended:
            return
        if bytes_data is not None:
            # Counted, never kept: the audit holds byte counts, not keystrokes.
            self.bytes_in += len(bytes_data)
            self.last_input = time.monotonic()
            self.bridge.write(bytes_data)
            return
        message = protocol.parse(text_data or "")
        if message.get("type") == "resize":
            cols = protocol.clamp_size(message.get("cols"), protocol.DEFAULT_COLS)
            rows = protocol.clamp_size(message.get("rows"), protocol.DEFAULT_ROWS)
            self.bridge.resize(cols, rows)

    async def disconnect(self, code):
        self.client_gone = True
        await self.end(EndReason.CLOSED, None, "")

    # --- called from the bridge's reader thread -------------------------------------------
    def _output_from_thread(self, data: bytes) -> None:
        self.bytes_out += len(data)
        try:
            future = asyncio.run_coroutine_threadsafe(self._send_output(data), self.loop)
        except RuntimeError:  # the server's event loop is gone (shutting down)
            return
        try:
            future.result(timeout=60)  # waits: a slow client slows the host, not our memory
        except Exception:  # noqa: BLE001 - the client went; the session is ending anyway
            future.cancel()

    def _exit_from_thread(self, exit_status: int | None) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self._remote_ended(exit_status), self.loop)
        except RuntimeError:  # the server's event loop is gone (shutting down)
            pass

    # ---------------------------------------------------------------------------------------
    async def _send_output(self, data: bytes) -> None:
        if not self.ended:
            await self.send(bytes_data=data)

    async def _remote_ended(self, exit_status: int | None) -> None:
        if self.ended:
            return
        if await _sync(targets.vm_stopping)(self.target, self.started_at):
            return await self.end(EndReason.VM_STOPPED, exit_status)
        if exit_status is None:
            message = f"lost the connection to {self.target.host.name}"
            return await self.end(EndReason.HOST_UNREACHABLE, None, message)
        await self.end(EndReason.EXITED, exit_status, f"exited with status {exit_status}")

    async def _watch(self) -> None:
        """Deadlines (idle, maximum length) and, every beat, the VM still RUNNING and the
        session row marked alive (what the per-user limit counts across processes)."""
        idle, longest = settings.CONSOLE_IDLE_SECONDS, settings.CONSOLE_MAX_SECONDS
        beat = settings.CONSOLE_BEAT_SECONDS
        next_beat = time.monotonic() + beat
        while not self.ended:
            now = time.monotonic()
            if now - self.opened >= longest:
                return await self.end(EndReason.MAX_LENGTH)
            if now - self.last_input >= idle:
                return await self.end(EndReason.IDLE)
            if now >= next_beat:
                next_beat = now + beat
                if not await _sync(targets.still_there)(self.target):
                    return await self.end(EndReason.VM_STOPPED)
                await _sync(services.beat)(self.record.pk, self.bytes_in, self.bytes_out)
            wake = min(next_beat, self.opened + longest, self.last_input + idle)
            await asyncio.sleep(max(0.05, wake - time.monotonic()))

    async def end(self, reason: str, exit_status: int | None = None, message: str = ""):
        """End the session once, whoever asks first: record it, close the SSH side, and tell
        the client why (unless it is the one that left)."""
        if self.ended:
            return
        self.ended = True
        if self.watchdog is not None and self.watchdog is not asyncio.current_task():
            self.watchdog.cancel()
        if self.bridge is not None:
            await asyncio.to_thread(self.bridge.close)
        if self.record is not None:
            await _sync(services.finish)(
                self.record.pk, reason, self.bytes_in, self.bytes_out, exit_status
            )
        if self.client_gone:
            return
        if not message:
            message = ENDING_MESSAGES.get(reason, str(reason)).format(
                idle=settings.CONSOLE_IDLE_SECONDS, max=settings.CONSOLE_MAX_SECONDS
            )
        code = {
            EndReason.EXITED: protocol.CLOSE_NORMAL,
            EndReason.HOST_UNREACHABLE: protocol.CLOSE_UNREACHABLE,
        }.get(reason, protocol.CLOSE_ENDED)
        try:
            await self.send(text_data=protocol.exit_message(exit_status, reason, message))
            await self.close(code)
        except Exception:  # noqa: BLE001 - the client may have gone meanwhile
            log.debug("console client gone before its exit message", exc_info=True)


class HostConsoleConsumer(ConsoleConsumer):
    kind = "host"
