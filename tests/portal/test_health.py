"""/healthz, /readyz and /metrics: what each checks, what a failure says, and who may scrape."""

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from core import metrics
from jobs.states import JobState
from monitoring.models import WorkerHeartbeat
from portal import health
from vms import services
from vms.models import VM, VMJob

pytestmark = pytest.mark.django_db


def worker_seen(seconds_ago: float) -> None:
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        owner=f"m1:{int(seconds_ago)}:aa",
        hostname="m1",
        pid=1,
        started_at=now,
        seen_at=now - timedelta(seconds=seconds_ago),
    )


def samples(response) -> dict:
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.content.decode())
        for s in family.samples
    }


def test_healthz_answers_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "alive"}


def test_readyz_is_ready_with_database_broker_and_a_recent_worker(client):
    worker_seen(5)
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ready" and body["failed"] == []
    assert body["checks"]["broker"]["detail"] == "orm"  # no REDIS_URL here
    assert body["checks"]["workers"]["detail"] == "1 seen in the last 90 s"


def test_readyz_names_a_worker_not_seen_recently(client, settings):
    settings.READY_WORKER_SECONDS = 30
    worker_seen(45)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["workers"]
    assert "no job worker seen in the last 30 s (last seen" in body["checks"]["workers"]["detail"]


def test_readyz_names_a_broker_that_does_not_answer(client, settings):
    worker_seen(1)
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens there
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]
    assert response.json()["checks"]["broker"]["detail"].startswith("redis: ")


def test_readyz_names_the_database_when_it_is_away(client, monkeypatch):
    worker_seen(1)

    class Down:
        vendor = "postgresql"

        def cursor(self):
            raise OperationalError("connection refused\nmore detail")

    monkeypatch.setattr(health, "connection", Down())
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "database" in response.json()["failed"]
    assert response.json()["checks"]["database"]["detail"].endswith("connection refused")


def test_probes_need_no_https_nor_a_listed_host_name(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["portal.example.com"]
    worker_seen(1)
    # A probe from systemd or the proxy's side: plain HTTP to 127.0.0.1.
    assert client.get("/healthz", HTTP_HOST="127.0.0.1:8000").status_code == 200
    assert client.get("/readyz", HTTP_HOST="127.0.0.1:8000").status_code == 200
    # Everything else keeps both rules: a token never goes over plain HTTP.
    assert client.get("/metrics", HTTP_HOST="127.0.0.1:8000").status_code == 400
    assert client.get("/metrics", HTTP_HOST="portal.example.com").status_code == 301


def test_metrics_is_for_operators_only(api, operator_api, operator_client):
    assert Client().get("/metrics").status_code == 401
    assert api.get("/metrics").status_code == 403
    assert operator_api.get("/metrics").status_code == 200
    assert operator_client.get("/metrics").status_code == 200


def test_metrics_count_the_world_at_scrape_time(operator_api, template, owner):
    first = services.instantiate(owner, "Alpine", name="a", nics=["dc-public"])
    services.instantiate(owner, "Alpine", name="b", nics=["dc-public"])
    VM.objects.filter(pk=first.pk).update(state="RUNNING")
    VMJob.objects.filter(vm=first).update(state=JobState.SUCCESS, takeovers=2)
    worker_seen(1)
    shown = samples(operator_api.get("/metrics"))
    assert shown[("edge_vms", frozenset({("state", "RUNNING")}))] == 1
    assert shown[("edge_vms", frozenset({("state", "PENDING")}))] == 1
    assert shown[("edge_provisions", frozenset({("state", "RUNNING")}))] == 1
    assert shown[("edge_hosts", frozenset({("state", "RUNNING")}))] == 2
    vm_deploys = {("target", "vm"), ("kind", "deploy")}
    assert shown[("edge_jobs", frozenset(vm_deploys | {("state", "QUEUED")}))] == 1
    assert shown[("edge_jobs", frozenset(vm_deploys | {("state", "SUCCESS")}))] == 1
    assert shown[("edge_job_takeovers_total", frozenset({("target", "vm")}))] == 2
    assert shown[("edge_workers_alive", frozenset())] == 1
    assert shown[("edge_queue_tasks", frozenset())] >= 0


def test_metrics_show_what_every_process_counted(operator_api):
    metrics.count_digitalocean_response("get", "https://do.example/v2/droplets/123?page=2", 200)
    metrics.count_digitalocean_response("GET", "droplets/456", 200)
    metrics.count_digitalocean_response("POST", "/v2/droplets", 429)
    metrics.count_ssh_failure("unreachable")
    metrics.observe_job_duration("vm", "deploy", "SUCCESS", 2.5)
    metrics.observe_job_duration("vm", "deploy", "SUCCESS", 40)
    metrics.flush()
    shown = samples(operator_api.get("/metrics"))
    requests = "edge_digitalocean_requests_total"
    get = {("method", "GET"), ("path", "/v2/droplets/{id}"), ("status", "200")}
    assert shown[(requests, frozenset(get))] == 2
    post = {("method", "POST"), ("path", "/v2/droplets"), ("status", "429")}
    assert shown[(requests, frozenset(post))] == 1
    assert shown[("edge_ssh_failures_total", frozenset({("reason", "unreachable")}))] == 1
    deploys = {("target", "vm"), ("kind", "deploy"), ("outcome", "SUCCESS")}
    bucket = "edge_job_duration_seconds_bucket"
    assert shown[(bucket, frozenset(deploys | {("le", "1.0")}))] == 0
    assert shown[(bucket, frozenset(deploys | {("le", "5.0")}))] == 1  # cumulative
    assert shown[(bucket, frozenset(deploys | {("le", "60.0")}))] == 2
    assert shown[(bucket, frozenset(deploys | {("le", "+Inf")}))] == 2
    assert shown[("edge_job_duration_seconds_count", frozenset(deploys))] == 2
    assert shown[("edge_job_duration_seconds_sum", frozenset(deploys))] == 42.5
