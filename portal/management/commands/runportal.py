"""Run the web server and a django-q2 worker together; Ctrl-C (or either one dying) stops both."""

import os
import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Start the web server and the django-q2 worker together."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=os.environ.get("PORTAL_BIND", "127.0.0.1:8000"))

    def handle(self, *args, bind, **options):
        manage = [sys.executable, "manage.py"]
        children = [
            subprocess.Popen([*manage, "runserver", "--noreload", bind]),
            subprocess.Popen([*manage, "qcluster"]),
        ]
        self.stdout.write(f"Portal on http://{bind}/ with a job worker. Ctrl-C stops both.")
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGINT)
            deadline = time.monotonic() + 10
            for child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
        failed = [child.args[2] for child in children if child.returncode not in (0, -2, 1)]
        if failed:
            self.stderr.write(f"stopped because {', '.join(failed)} exited")
