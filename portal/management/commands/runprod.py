"""The production processes on one machine, in one command (`make run-prod`): the ASGI
server (`serve`) and N job workers (`worker`), each worker a django-q2 cluster of its own as
on N machines, against DATABASE_URL (PostgreSQL) and REDIS_URL (the broker). Ctrl-C or SIGTERM
stops them all; any one of them dying stops the rest. Across machines, run `serve` and
`worker` under systemd instead (deploy/)."""

import os

from django.conf import settings
from django.core.management.base import CommandError

from core.env import env_int
from portal.management.commands import runportal


class Command(runportal.Command):
    help = "Start the ASGI server and N job workers against PostgreSQL and Redis."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--processes",
            type=int,
            default=env_int("WEB_PROCESSES", os.cpu_count() or 1),
            help="web server processes (default WEB_PROCESSES or the CPU count)",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=env_int("WORKER_PROCESSES", 2),
            help="job worker processes (default WORKER_PROCESSES or 2)",
        )

    def handle(self, *args, **options):
        if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
            raise CommandError("runprod needs DATABASE_URL (PostgreSQL); `make run` is SQLite")
        if not settings.REDIS_URL:
            raise CommandError("runprod needs REDIS_URL (the job broker); `make run` needs none")
        if options["workers"] < 1:
            raise CommandError("--workers must be at least 1")
        super().handle(*args, **options)

    def commands(self, bind, *, processes, workers, **options):
        web = ("web server", ["serve", "--bind", bind, "--processes", str(processes)])
        return [web] + [(f"job worker {n}", list(runportal.WORKER_COMMAND)) for n in range(workers)]

    def started_message(self, bind) -> str:
        workers = len(self.children) - 1
        return f"Portal on http://{bind}/ (uvicorn) with {workers} job workers. Ctrl-C stops all."
