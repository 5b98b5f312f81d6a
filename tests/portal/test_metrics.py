"""Counters of every process, kept in the database: how they are recorded, written and labelled."""

import os

import pytest
from django.db import DatabaseError

from core import metrics
from core.metrics import store
from core.models import MetricCounter
from hostexec.keys import generate_ed25519
from hostexec.ssh import HostSession, HostUnreachable

pytestmark = pytest.mark.django_db


def counted(name) -> dict[str, float]:
    return {
        ",".join(f"{k}={v}" for k, v in sorted(c.labels.items())): c.value
        for c in MetricCounter.objects.filter(name=name)
    }


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("https://api.digitalocean.com/v2/droplets/42/actions?page=2", "/v2/droplets/{id}/actions"),
        ("droplets", "/v2/droplets"),
        ("account/keys/3b:16:bf:e4:8b:00:8b:b8", "/v2/account/keys/{id}"),
        ("tags/edge-portal-alice-dc/resources", "/v2/tags/{id}/resources"),
        ("vpcs/5a4981aa-9653-4bd1-bef5-d6bff52042e4/members", "/v2/vpcs/{id}/members"),
        ("", "/v2/"),
    ],
)
def test_digitalocean_paths_keep_no_ids_or_names(url, path):
    assert metrics.digitalocean_path(url) == path


def test_counts_add_up_in_the_process_and_land_in_one_flush(django_assert_num_queries):
    for _ in range(3):
        metrics.count_digitalocean_response("GET", "droplets/1", 200)
    metrics.count_digitalocean_response("GET", "droplets/1", None)
    metrics.flush()
    assert counted("edge_digitalocean_requests") == {
        "method=GET,path=/v2/droplets/{id},status=200": 3,
        "method=GET,path=/v2/droplets/{id},status=error": 1,
    }
    metrics.count_digitalocean_response("GET", "droplets/2", 200)
    metrics.flush()
    series = counted("edge_digitalocean_requests")
    assert series["method=GET,path=/v2/droplets/{id},status=200"] == 4
    with django_assert_num_queries(0):
        metrics.flush()  # nothing pending, nothing written


def test_counts_survive_a_database_that_is_away(monkeypatch):
    metrics.count_ssh_failure("auth_failed")
    real = MetricCounter.objects.filter

    def away(*args, **kwargs):
        raise DatabaseError("server closed the connection")

    monkeypatch.setattr(MetricCounter.objects, "filter", away)
    metrics.flush()
    monkeypatch.setattr(MetricCounter.objects, "filter", real)
    metrics.count_ssh_failure("auth_failed")
    metrics.flush()
    assert counted("edge_ssh_failures") == {"reason=auth_failed": 2}


def test_a_forked_worker_starts_with_nothing_pending():
    metrics.count_ssh_failure("unreachable")  # the parent's to write
    pid = os.fork()
    if pid == 0:
        os._exit(0 if not store._pending else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert store._pending  # the parent's still there


def test_a_host_that_does_not_answer_ssh_is_counted_once_the_wait_is_over():
    key, host_key = generate_ed25519("k"), generate_ed25519("h")
    session = HostSession(
        "127.0.0.1",
        port=9,  # nothing listens
        private_key=key.private_openssh,
        host_key=host_key.public_openssh,
        connect_timeout=2,
    )
    with pytest.raises(HostUnreachable):
        session.connect(wait=0)
    metrics.flush()
    assert counted("edge_ssh_failures") == {"reason=unreachable": 1}
