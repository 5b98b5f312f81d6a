"""What the three parts of bench/monitoring.py share: the world's size, the cycle's interval,
the failure that stops a part, and progress on stderr."""

import sys

HOSTS = 16
VMS_PER_HOST = 10
INTERVAL = 30.0


class Failed(Exception):
    """A part's world could not be set up; the message says where."""


def say(message: str) -> None:
    # Progress on stderr: the stdout is the results file's table.
    print(f"[monitoring bench] {message}", file=sys.stderr, flush=True)
