"""What travels on a console WebSocket, for the server and both clients (xterm.js in the page,
`onevm ssh` in a terminal). Pure Python, no Django: the CLI imports it.

- binary frames carry terminal bytes, keystrokes one way and output the other;
- text frames carry JSON control messages: from the client `{"type": "resize", "cols": C,
  "rows": R}`; from the server `{"type": "status", "message": M, "state": S}` (shown, not part
  of the terminal; S "connecting" or "connected"), `{"type": "error", "message": M}` before a
  close that refuses or cuts the session, and `{"type": "exit", "status": N, "reason": R,
  "message": M}` when the session ends.
- the initial size rides in the URL (`?cols=C&rows=R`): the PTY is made with it at once.
"""

import json

VM_PATH = "/ws/consoles/vms/{id}/"
HOST_PATH = "/ws/consoles/hosts/{id}/"

# Close codes (4000-4999 are the application's). An outsider's VM and a VM that does not exist
# both close with NOT_FOUND and the same message, as the API answers 404 for both.
CLOSE_NORMAL = 1000
CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_NOT_RUNNING = 4409
CLOSE_LIMIT = 4429
CLOSE_UNREACHABLE = 4502
CLOSE_ENDED = 4000  # idle timeout, maximum length, VM stopped: the exit message says which

MIN_SIZE, MAX_SIZE = 1, 1000
DEFAULT_COLS, DEFAULT_ROWS = 80, 24


def clamp_size(value, default: int) -> int:
    """A terminal dimension from a client: an int in 1..1000, or the default."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return min(MAX_SIZE, max(MIN_SIZE, number))


def resize(cols: int, rows: int) -> str:
    return json.dumps({"type": "resize", "cols": cols, "rows": rows})


def status(message: str, state: str = "connecting") -> str:
    """state: "connecting" (before the shell) or "connected" (keystrokes reach it now)."""
    return json.dumps({"type": "status", "message": message, "state": state})


def error(message: str) -> str:
    return json.dumps({"type": "error", "message": message})


def exit_message(exit_status: int | None, reason: str, message: str) -> str:
    return json.dumps({"type": "exit", "status": exit_status, "reason": reason, "message": message})


def parse(text: str) -> dict:
    """A control message, or {} for anything that is not one (ignored, never an error)."""
    try:
        message = json.loads(text)
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}
