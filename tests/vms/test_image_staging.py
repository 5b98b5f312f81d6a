"""Images staged on a cluster's hosts (vms/staging.py) without the lab: what is enqueued for
which hosts, and that a host's failure is only a logged outcome. The staging on real hosts is
tests/lab/test_image_staging.py."""

import pytest

from jobs import queue
from marketplace import services as market
from provisions import hooks
from provisions.choices import HostState
from vms import lxc, staging

pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueued(monkeypatch, settings):
    settings.IMAGE_STAGING = True
    calls = []
    monkeypatch.setattr(queue, "async_task", lambda *args, **kwargs: calls.append(args))
    return calls


def test_an_export_stages_its_image_on_the_clusters_running_hosts(
    owner, cluster, app, enqueued, django_capture_on_commit_callbacks
):
    down, up = cluster.hosts.order_by("id")
    cluster.hosts.filter(pk=down.pk).update(state=HostState.ERROR)
    with django_capture_on_commit_callbacks(execute=True):
        image, _ = market.export_app(owner, "Alpine Linux 3.13", "Alpine", "dc-image")
    assert enqueued == [("vms.staging.stage_image", image.pk, [up.pk])]


def test_no_staging_when_it_is_turned_off(owner, cluster, app, enqueued, settings):
    settings.IMAGE_STAGING = False
    market.export_app(owner, "Alpine Linux 3.13", "Alpine", "dc-image")
    assert enqueued == []


def test_hosts_that_join_get_every_image_of_the_cluster(
    template, cluster, enqueued, django_capture_on_commit_callbacks
):
    assert staging.stage_images_of in hooks.hosts_joined.callables
    new = cluster.hosts.order_by("id").last()
    with django_capture_on_commit_callbacks(execute=True):
        hooks.hosts_joined(cluster, [new])
    assert enqueued == [("vms.staging.stage_image", template.image.pk, [new.pk])]


def test_a_host_that_fails_is_an_outcome_not_an_error(template, cluster, monkeypatch):
    first, second = cluster.hosts.order_by("id")
    cluster.hosts.filter(pk=second.pk).update(state=HostState.REMOVING)  # gone meanwhile

    def prepare(host, image, log=None):
        raise lxc.LXCError(f"{host.name}: no route to host")

    monkeypatch.setattr(lxc, "prepare_image", prepare)
    outcome = staging.stage_image(template.image.pk, [first.pk, second.pk])
    assert outcome == {first.name: f"failed: {first.name}: no route to host"}
    assert staging.stage_image(10**9, [first.pk]) == {}  # the image was deleted meanwhile


def test_a_broker_that_refuses_the_task_fails_neither_export_nor_job(
    owner, cluster, app, monkeypatch, settings, django_capture_on_commit_callbacks, caplog
):
    settings.IMAGE_STAGING = True

    def refuse(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(queue, "async_task", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        image, template = market.export_app(owner, "Alpine Linux 3.13", "Alpine", "dc-image")
        hooks.hosts_joined(cluster, list(cluster.hosts.all()))
    assert template.image == image
    assert "broker down" in caplog.text
