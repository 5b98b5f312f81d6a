"""The terminal side of a console (`onevm ssh NAME`, `oneprovision host ssh P H`): the local
terminal in raw mode wired to the portal's console WebSocket (core.console_protocol), so that every
key (Ctrl-C included) goes to the remote program, SIGWINCH becomes a resize message, and the
remote exit status becomes this command's."""

import os
import select
import signal
import sys
import termios
import threading
import tty
from urllib.parse import urlsplit, urlunsplit

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import connect

from cli.client import CliError
from core import console_protocol as protocol

# A console that ends without an exit status (refused, idle, VM stopped, connection lost): what
# ssh(1) answers for its own errors.
NO_STATUS = 255
OPEN_TIMEOUT = 15


def websocket_url(client, path: str, cols: int, rows: int) -> str:
    """The console URL on the portal the client talks to: ws(s)://HOST/PATH?cols=..&rows=.."""
    scheme, netloc, base_path, _, _ = urlsplit(client.base.removesuffix("api/"))
    ws_scheme = {"http": "ws", "https": "wss"}.get(scheme, scheme)
    query = f"cols={cols}&rows={rows}"
    return urlunsplit((ws_scheme, netloc, base_path.rstrip("/") + path, query, ""))


def _size(fd) -> tuple[int, int]:
    try:
        size = os.get_terminal_size(fd)
        return size.columns, size.lines
    except OSError:
        return protocol.DEFAULT_COLS, protocol.DEFAULT_ROWS


class _Outcome:
    def __init__(self):
        self.status: int | None = None
        self.message = ""
        self.reason = ""


def _receive(ws, out_fd, outcome: _Outcome, wake_w: int) -> None:
    """The WebSocket to the terminal, until the server closes (then wake the main loop)."""
    try:
        for frame in ws:
            if isinstance(frame, bytes):
                os.write(out_fd, frame)
                continue
            message = protocol.parse(frame)
            if message.get("type") == "error":
                outcome.message = message.get("message", "")
            elif message.get("type") == "exit":
                outcome.status = message.get("status")
                outcome.reason = message.get("reason", "")
                outcome.message = message.get("message", "")
    except ConnectionClosed:
        pass
    finally:
        os.write(wake_w, b"x")


def interactive(client, path: str, prog: str) -> int:
    """Run one console session on this terminal; returns the exit status to exit with."""
    in_fd, out_fd = sys.stdin.fileno(), sys.stdout.fileno()
    cols, rows = _size(out_fd)
    token = client.session.headers["Authorization"]
    url = websocket_url(client, path, cols, rows)
    try:
        ws = connect(
            url,
            additional_headers={"Authorization": token, "User-Agent": "edge-portal-cli"},
            open_timeout=OPEN_TIMEOUT,
            max_size=None,
            compression=None,  # keystrokes are a few bytes: deflate only adds latency
        )
    except InvalidStatus as exc:
        raise CliError(f"the portal refused the console: HTTP {exc.response.status_code}") from None
    except (OSError, TimeoutError, InvalidHandshake) as exc:
        raise CliError(f"cannot open a console at {url}: {exc}") from None

    outcome = _Outcome()
    wake_r, wake_w = os.pipe()
    resized = threading.Event()
    receiver = threading.Thread(
        target=_receive, args=(ws, out_fd, outcome, wake_w), name="console-recv", daemon=True
    )
    saved = termios.tcgetattr(in_fd)

    def on_winch(signum, frame):
        resized.set()
        os.write(wake_w, b"w")

    previous = signal.signal(signal.SIGWINCH, on_winch)
    try:
        tty.setraw(in_fd)
        receiver.start()
        while receiver.is_alive():
            ready, _, _ = select.select([in_fd, wake_r], [], [], 1.0)
            if wake_r in ready:
                os.read(wake_r, 64)
            if resized.is_set():
                resized.clear()
                ws.send(protocol.resize(*_size(out_fd)))
            if in_fd in ready:
                data = os.read(in_fd, 4096)
                if not data:
                    break
                ws.send(data)
    except ConnectionClosed:
        pass
    finally:
        termios.tcsetattr(in_fd, termios.TCSADRAIN, saved)
        signal.signal(signal.SIGWINCH, previous)
        ws.close()
        receiver.join(timeout=5)
        os.close(wake_r)
        os.close(wake_w)
    if outcome.reason == "EXITED" and outcome.status is not None:
        return outcome.status
    if outcome.message:
        print(f"\r\n{prog}: {outcome.message}", file=sys.stderr)
    return NO_STATUS if outcome.status is None else outcome.status
