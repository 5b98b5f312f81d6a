"""Run the web server and a django-q2 worker together; Ctrl-C (or either one dying) stops both.
`runprod` is the same with other children (commands())."""

import contextlib
import os
import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand

# A job cut short is resumable (jobs are reconcilers), so shutdown need not wait long.
STOP_TIMEOUT = 10
# How the children run a management command (tests point it at stand-in children).
MANAGE = [sys.executable, "manage.py"]
WORKER_COMMAND = ["worker"]


class Command(BaseCommand):
    help = "Start the web server and the django-q2 worker together."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=os.environ.get("PORTAL_BIND", "127.0.0.1:8000"))

    def handle(self, *args, bind, **options):
        self.children = {}
        self.stopping = False
        # The handler only sets a flag (or, once stopping, kills): a KeyboardInterrupt could land
        # anywhere, e.g. between starting a child and recording it, or inside _stop's waits, and
        # leave a child running. Installing it also undoes the shell's SIG_IGN for background jobs.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)
        exited = None
        try:
            # Each child leads its own process group: Ctrl-C reaches only this command, which then
            # stops each group in order (qcluster's workers included) instead of racing them.
            for name, argv in self.commands(bind, **options):
                self.children[name] = subprocess.Popen([*MANAGE, *argv], start_new_session=True)
            self.stdout.write(self.started_message(bind))
            while not self.stopping and exited is None:
                exited = next((n for n, c in self.children.items() if c.poll() is not None), None)
                time.sleep(0.2)
        finally:
            self.stopping = True  # from here on, a signal means "kill now"
            self._stop()
        if exited:
            self._say(f"stopped: the {exited} exited")
            sys.exit(1)

    def commands(self, bind, **options) -> list[tuple[str, list[str]]]:
        """The children: (name, management command argv), started in this order."""
        return [
            # uvicorn (`serve`), not runserver: runserver speaks WSGI only, and the consoles are
            # WebSockets. One process, as the in-memory channel layer of `make run` requires.
            ("web server", ["serve", "--bind", bind, "--processes", "1"]),
            ("job worker", list(WORKER_COMMAND)),
        ]

    def started_message(self, bind) -> str:
        return f"Portal on http://{bind}/ with a job worker. Ctrl-C stops both."

    def _on_signal(self, signum, frame):
        if self.stopping:
            # A second Ctrl-C means the user will not wait: escalate rather than give up the stop.
            self._kill_groups(signal.SIGKILL)
            names = [f"the {name}" for name in self.children]
            listed = " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
            self._say(f"interrupted again: killed {listed}")
        self.stopping = True

    def _stop(self):
        # SIGTERM to each leader only: the worker's cluster stops its own processes in order
        # (in ~3 s); signalled all at once, they wait on each other until the timeout.
        for child in self.children.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for name, child in self.children.items():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._say(f"the {name} did not stop in {STOP_TIMEOUT} s: killing it")
            self._kill_groups(signal.SIGKILL, [child])  # leftovers of the group, if any
            child.wait()

    def _kill_groups(self, signum, children=None):
        for child in self.children.values() if children is None else children:
            # A group whose leader we reaped may be gone already.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signum)

    def _say(self, message):
        # stderr may be a pipe whose reader (`make run | tee`) died with the same Ctrl-C; an
        # error here must not cut the stop short and leave a child running.
        with contextlib.suppress(OSError):
            self.stderr.write(message)
