"""The job worker: django-q2's cluster, plus the supervisor loop (lease sweep and monitoring)
in this, the cluster's parent process. Jobs lost by dead workers are swept before the cluster
starts, so a restarted worker picks them up at once."""

from django.conf import settings
from django.db import connections
from django_q.cluster import Cluster
from django_q.management.commands import qcluster

from portal.supervisor import Supervisor


class Command(qcluster.Command):
    help = "Start the job worker: a django-q2 cluster with the lease sweep and monitoring."

    def handle(self, *args, **options):
        settings.SECRET_KEY  # noqa: B018 - the cluster signs tasks with it: fail early
        supervisor = Supervisor()
        supervisor.sweep()
        # The cluster forks its processes from here: they must not inherit our connection.
        connections.close_all()
        cluster = Cluster()
        cluster.start()
        if options.get("run_once"):
            cluster.stop()
            return
        # The cluster's own SIGTERM/SIGINT handler stops it; the loop then sees it gone.
        supervisor.run(lambda: cluster.sentinel is not None and cluster.sentinel.is_alive())
