"""`manage.py runportal` in a real process, with real children, process groups and signals.

The children are stand-ins (a small script in place of manage.py) so a test can make them
ignore SIGTERM, which is when a second Ctrl-C matters, and so no database or port is needed.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from portal.management.commands import runportal

ROOT = Path(__file__).resolve().parents[2]

# Runs runportal exactly as manage.py does, with its children's manage.py replaced.
RUN_PORTAL = """
import sys
from django.core.management import execute_from_command_line
from portal.management.commands import runportal
runportal.MANAGE = [sys.executable, sys.argv.pop(1)]
execute_from_command_line(["manage.py", *sys.argv[1:]])
"""

# A child: records its argv and pid once its signal handling is set up, then waits.
STAND_IN = """
import json, os, signal, sys, time
from pathlib import Path

out = Path(os.environ["STAND_IN_DIR"])
role = "web" if sys.argv[1] == "serve" else "worker"
mode = os.environ["STAND_IN_MODE"]
if mode == "stubborn":
    signal.signal(signal.SIGTERM, lambda *_: (out / f"{role}.term").touch())
tmp = out / f"{role}.tmp"
tmp.write_text(json.dumps({"pid": os.getpid(), "argv": sys.argv[1:]}))
tmp.rename(out / f"{role}.json")
if mode == "web-exits" and role == "web":
    sys.exit(3)
while True:
    time.sleep(1)
"""


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def group_is_gone(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def portal(tmp_path):
    """Start runportal with stand-in children in `mode`; returns (process, children, bind)."""
    started = []
    pgids = []
    stand_in = tmp_path / "stand_in.py"
    stand_in.write_text(STAND_IN)

    def start(mode):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECURE_"))}
        env.update(
            DJANGO_SETTINGS_MODULE="portal.settings",
            PORTAL_DATA_DIR=str(tmp_path / "data"),
            STAND_IN_DIR=str(tmp_path),
            STAND_IN_MODE=mode,
        )
        bind = f"127.0.0.1:{free_port()}"
        proc = subprocess.Popen(
            [sys.executable, "-c", RUN_PORTAL, str(stand_in), "runportal", "--bind", bind],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        files = {role: tmp_path / f"{role}.json" for role in ("web", "worker")}
        wait_for(lambda: all(f.exists() for f in files.values()) or proc.poll() is not None)
        assert proc.poll() is None or mode == "web-exits", proc.communicate()
        children = {role: json.loads(f.read_text()) for role, f in files.items()}
        pgids.extend(child["pid"] for child in children.values())
        return proc, children, bind

    yield start
    # A failing test must not leave processes behind.
    for pgid in pgids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    for proc in started:
        proc.kill()
        proc.communicate()


def test_one_ctrl_c_stops_both_children(portal):
    proc, children, bind = portal("polite")
    assert children["web"]["argv"] == ["serve", "--bind", bind, "--processes", "1"]
    assert children["worker"]["argv"] == runportal.WORKER_COMMAND

    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=5)

    assert proc.returncode == 0, err
    assert "Traceback" not in err and "interrupted again" not in err
    for child in children.values():
        assert group_is_gone(child["pid"])


@pytest.mark.parametrize("second", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_second_signal_while_stopping_kills_children_that_ignore_sigterm(portal, tmp_path, second):
    proc, children, _ = portal("stubborn")

    proc.send_signal(signal.SIGINT)
    # Both children got runportal's SIGTERM and ignored it: runportal is now waiting in its stop.
    wait_for(lambda: all((tmp_path / f"{role}.term").exists() for role in children))
    assert proc.poll() is None
    proc.send_signal(second)
    # Well within STOP_TIMEOUT: the second signal escalated, it did not wait the stop out.
    assert runportal.STOP_TIMEOUT > 3
    _, err = proc.communicate(timeout=3)

    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert err.count("interrupted again: killed the web server and the job worker") == 1
    for child in children.values():
        assert group_is_gone(child["pid"])


def test_a_child_exiting_stops_the_other(portal):
    proc, children, _ = portal("web-exits")

    _, err = proc.communicate(timeout=5)

    assert proc.returncode == 1
    assert "stopped: the web server exited" in err
    for child in children.values():
        assert group_is_gone(child["pid"])
