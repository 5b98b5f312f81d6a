"""Run the web server and a django-q2 worker together; Ctrl-C (or either one dying) stops both."""

import os
import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand

# A job cut short is resumable (jobs are reconcilers), so shutdown need not wait long.
STOP_TIMEOUT = 10


class Command(BaseCommand):
    help = "Start the web server and the django-q2 worker together."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=os.environ.get("PORTAL_BIND", "127.0.0.1:8000"))

    def handle(self, *args, bind, **options):
        manage = [sys.executable, "manage.py"]
        # Each child leads its own process group: Ctrl-C reaches only this command, which then
        # stops each group in order (qcluster's workers included) instead of racing them.
        children = {
            "web server": subprocess.Popen(
                [*manage, "runserver", "--noreload", bind], start_new_session=True
            ),
            "job worker": subprocess.Popen([*manage, "qcluster"], start_new_session=True),
        }
        self.stdout.write(f"Portal on http://{bind}/ with a job worker. Ctrl-C stops both.")
        # Shells start background jobs with SIGINT ignored; Ctrl-C must always work here.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        exited = None
        try:
            while exited is None:
                exited = next((n for n, c in children.items() if c.poll() is not None), None)
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self._stop(children)
        if exited:
            self.stderr.write(f"stopped: the {exited} exited")
            sys.exit(1)

    def _stop(self, children):
        for child in children.values():
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for name, child in children.items():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"the {name} did not stop in {STOP_TIMEOUT} s: killing it")
            try:
                os.killpg(child.pid, signal.SIGKILL)  # leftovers of the group, if any
            except ProcessLookupError:
                pass
            child.wait()
