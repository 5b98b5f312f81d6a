"""Probes and metrics: /healthz (liveness), /readyz (readiness) and /metrics (Prometheus).

/healthz touches nothing but this process: a process that answers is alive, and a database
outage must not make a supervisor restart every web process. /readyz checks what a request
needs (the database), what a job needs (the broker) and that some worker will run it (one seen
recently), answering 503 with the failed check named so a load balancer and a human both know.
Probes are answered by ProbeMiddleware, first of all middleware: they come from the proxy's or
systemd's side to 127.0.0.1 over plain HTTP, with a Host header ALLOWED_HOSTS need not list (a
DisallowedHost 400 would read as "down"), and need no session, CSRF or HTTPS redirect.
/metrics is for operators (staff): an API token (`Authorization: Bearer ep_...`, what
Prometheus's `authorization` setting sends) or a staff session, over the same HTTPS as the
rest, so no second port or password has to be set up and guarded.
"""

from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import extend_schema
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from rest_framework import permissions
from rest_framework.views import APIView

from portal.metrics_collector import PortalCollector

BROKER_TIMEOUT = 2.0  # seconds: a probe must answer before the load balancer gives up


@never_cache
def healthz(request):
    return JsonResponse({"status": "alive"})


@never_cache
def readyz(request):
    checks = {"database": _database(), "broker": _broker(), "workers": _workers()}
    failed = [name for name, check in checks.items() if not check["ok"]]
    return JsonResponse(
        {"status": "not ready" if failed else "ready", "failed": failed, "checks": checks},
        status=503 if failed else 200,
    )


class ProbeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.probes = {"/healthz": healthz, "/readyz": readyz}

    def __call__(self, request):
        probe = self.probes.get(request.path_info)
        if probe is not None and request.method in ("GET", "HEAD"):
            return probe(request)
        return self.get_response(request)


def _database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return {"ok": False, "detail": f"{connection.vendor}: {_first_line(exc)}"}
    return {"ok": True, "detail": connection.vendor}


def _broker() -> dict:
    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_connect_timeout=BROKER_TIMEOUT,
            socket_timeout=BROKER_TIMEOUT,
        )
        try:
            client.ping()
        except redis.RedisError as exc:
            return {"ok": False, "detail": f"redis: {_first_line(exc)}"}
        finally:
            client.close()
        return {"ok": True, "detail": "redis"}
    # The ORM broker is the database's queue table: its being there is the check.
    from django_q.models import OrmQ

    try:
        OrmQ.objects.exists()
    except DatabaseError as exc:
        return {"ok": False, "detail": f"orm: {_first_line(exc)}"}
    return {"ok": True, "detail": "orm"}


def _workers() -> dict:
    from monitoring.models import WorkerHeartbeat

    window = settings.READY_WORKER_SECONDS
    try:
        seen = WorkerHeartbeat.objects.filter(
            seen_at__gte=timezone.now() - timedelta(seconds=window)
        ).count()
        last = WorkerHeartbeat.objects.order_by("-seen_at").values_list("seen_at", flat=True)
        last = last.first()
    except DatabaseError as exc:
        return {"ok": False, "detail": f"unknown: {_first_line(exc)}"}
    if seen:
        return {"ok": True, "detail": f"{seen} seen in the last {window:g} s"}
    since = f"last seen {last:%Y-%m-%d %H:%M:%S} UTC" if last else "never seen"
    return {"ok": False, "detail": f"no job worker seen in the last {window:g} s ({since})"}


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[0][:200]


@extend_schema(exclude=True)  # Prometheus text, not the JSON API the schema describes
class MetricsView(APIView):
    permission_classes = [permissions.IsAdminUser]

    def get(self, request):
        registry = CollectorRegistry(auto_describe=False)
        registry.register(PortalCollector())
        response = HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
        response["Cache-Control"] = "no-store"
        return response
