"""Deploy and delete against the DigitalOcean simulator, without the edge-host lab.

Without lab hosts nothing answers SSH, so a deploy gets through every cloud step to CONFIGURING
and then fails host configuration; that is the part tested here (tests/lab has the rest)."""

import pytest
from django.core.exceptions import ValidationError

from provisions import jobs, runs, services
from provisions.choices import ProvisionState, ResourceState
from provisions.models import CloudResource
from tests.helpers import (
    WorkerKilled,
    kill_after_step,
    nothing_left,
    run_queued,
    simulator_state,
    tagged,
)
from tests.provisions.conftest import SIM_TOKEN

pytestmark = pytest.mark.django_db(transaction=True)


def test_deploy_reaches_configuring_then_fails_on_ssh_and_delete_cleans_up(
    sim, sim_provider, owner
):
    provision = services.create_provision(owner, provider=sim_provider, name="edge", host_count=2)
    run_queued(provision)
    assert provision.state == ProvisionState.ERROR
    assert provision.failed_step == "configure_hosts"
    assert "cannot reach" in provision.error
    states = list(provision.events.values_list("to_state", flat=True))
    assert states == ["PENDING", "DEPLOYING", "CONFIGURING", "ERROR"]
    objects = tagged(sim, provision.tag)
    assert len(objects["droplets"]) == 2
    assert all(d["status"] == "active" for d in objects["droplets"])
    assert len(objects["firewalls"]) == len(objects["vpcs"]) == len(objects["ssh_keys"]) == 1
    hosts = list(provision.hosts.all())
    assert all(h.public_ip and h.private_ip and h.droplet_id for h in hosts)
    ledger = CloudResource.objects.filter(provision=provision, owned=True)
    assert sorted(ledger.values_list("kind", flat=True)) == [
        "droplet",
        "droplet",
        "firewall",
        "ssh_key",
        "vpc",
    ]
    assert set(ledger.values_list("state", flat=True)) == {ResourceState.CREATED}

    services.delete_provision(owner, provision)
    run_queued(provision)
    assert provision.state == ProvisionState.DONE, provision.error
    assert nothing_left(sim, provision.tag)


def test_region_gets_a_default_vpc_first_and_it_is_never_deleted(sim, sim_provider, owner):
    provision = services.create_provision(owner, provider=sim_provider, name="edge")
    run_queued(provision)
    vpcs = simulator_state(sim)["vpcs"]
    default = [v for v in vpcs if v["region"] == "nyc3" and v["default"]]
    assert len(default) == 1 and default[0]["name"] == "default-nyc3"
    own = [v for v in vpcs if v["name"] == provision.tag]
    assert own and not own[0]["default"]
    services.delete_provision(owner, provision)
    run_queued(provision)
    assert provision.state == ProvisionState.DONE
    assert [v["name"] for v in simulator_state(sim)["vpcs"] if v["region"] == "nyc3"] == [
        "default-nyc3"
    ]


def test_a_default_vpc_created_meanwhile_by_another_deploy_is_adopted(
    sim, sim_provider, owner, monkeypatch
):
    """Two deploys into an empty region both see no default VPC; the second one's create gets
    DigitalOcean's 422 (the name is taken) and adopts the first one's."""
    import requests

    from providers.drivers.digitalocean import DigitalOceanDriver

    listed = DigitalOceanDriver.vpcs
    calls = []

    def vpcs_then_the_other_deploy_creates_it(self):
        found = listed(self)
        if not calls:
            requests.post(
                sim.url + "/v2/vpcs",
                json={"name": "default-nyc3", "region": "nyc3"},
                headers={"Authorization": f"Bearer {SIM_TOKEN}"},
                timeout=5,
            ).raise_for_status()
        calls.append(1)
        return found

    monkeypatch.setattr(DigitalOceanDriver, "vpcs", vpcs_then_the_other_deploy_creates_it)
    provision = services.create_provision(owner, provider=sim_provider, name="edge")
    run_queued(provision)
    assert provision.failed_step == "configure_hosts", provision.error
    defaults = [v for v in simulator_state(sim)["vpcs"] if v["name"] == "default-nyc3"]
    assert len(defaults) == 1
    row = CloudResource.objects.get(provision=provision, name="default-nyc3")
    assert row.cloud_id == defaults[0]["id"] and not row.owned
    assert provision.jobs.get().lines.filter(message__contains="created meanwhile").exists()


@pytest.mark.parametrize("crash_after", ["ssh_key", "vpc", "droplets", "wait_active", "firewall"])
def test_killed_deploy_resumes_without_duplicates(
    sim, sim_provider, owner, monkeypatch, crash_after
):
    provision = services.create_provision(owner, provider=sim_provider, name="edge", host_count=3)
    job = provision.jobs.get()
    with monkeypatch.context() as patched, pytest.raises(WorkerKilled):
        kill_after_step(patched, runs.DeployRun, crash_after)
        jobs.run_job(job.pk)
    provision.refresh_from_db()
    assert provision.state in (ProvisionState.DEPLOYING, ProvisionState.CONFIGURING)
    services.retry_provision(owner, provision, force=True)
    run_queued(provision)
    # Only SSH (no lab) may fail now: every cloud object exists exactly once.
    assert provision.failed_step == "configure_hosts", provision.error
    objects = tagged(sim, provision.tag)
    assert len(objects["droplets"]) == 3
    assert sorted(d["name"] for d in objects["droplets"]) == [
        "edge-host-0",
        "edge-host-1",
        "edge-host-2",
    ]
    assert len(objects["vpcs"]) == len(objects["firewalls"]) == len(objects["ssh_keys"]) == 1
    services.delete_provision(owner, provision)
    run_queued(provision)
    assert provision.state == ProvisionState.DONE
    assert nothing_left(sim, provision.tag)


def test_crash_between_create_call_and_record_is_adopted(sim, sim_provider, owner, monkeypatch):
    """The worker dies right after DigitalOcean created the droplets, before recording them."""
    provision = services.create_provision(owner, provider=sim_provider, name="edge", host_count=2)
    real_confirm = runs.Run.confirm

    def dying_confirm(self, row, cloud_id, **data):
        if row.kind == "droplet":
            raise WorkerKilled("after create call")
        return real_confirm(self, row, cloud_id, **data)

    monkeypatch.setattr(runs.Run, "confirm", dying_confirm)
    with pytest.raises(WorkerKilled):
        jobs.run_job(provision.jobs.get().pk)
    assert len(tagged(sim, provision.tag)["droplets"]) == 2
    assert (
        CloudResource.objects.filter(
            provision=provision, kind="droplet", state=ResourceState.PLANNED
        ).count()
        == 2
    )
    monkeypatch.setattr(runs.Run, "confirm", real_confirm)
    services.retry_provision(owner, provision, force=True)
    run_queued(provision)
    assert len(tagged(sim, provision.tag)["droplets"]) == 2
    assert "adopted" in " ".join(provision.jobs.first().lines.values_list("message", flat=True))


def test_rate_limits_and_5xx_are_ridden_out(sim, sim_provider, owner):
    sim.set_faults(fault_429_every=3, retry_after=0, fault_5xx_every=5)
    provision = services.create_provision(owner, provider=sim_provider, name="edge", host_count=2)
    run_queued(provision)
    assert provision.failed_step == "configure_hosts", provision.error
    log = " ".join(provision.jobs.first().lines.values_list("message", flat=True))
    assert "retries)" in log and "(0 retries)" not in log
    sim.set_faults(fault_429_every=0, fault_5xx_every=0)
    services.delete_provision(owner, provision)
    run_queued(provision)
    assert provision.state == ProvisionState.DONE
    assert nothing_left(sim, provision.tag)


def test_droplet_that_never_becomes_active_is_a_clear_bounded_error(
    sim, sim_provider, owner, settings
):
    settings.PROVISION_BOOT_TIMEOUT = 1
    sim.set_faults(never_active="stuck")
    provision = services.create_provision(owner, provider=sim_provider, name="stuck")
    run_queued(provision)
    assert provision.state == ProvisionState.ERROR
    assert provision.failed_step == "wait_active"
    assert "not active after 1 s: stuck-host-0 (new)" in provision.error
    services.delete_provision(owner, provision)
    run_queued(provision)
    assert provision.state == ProvisionState.DONE
    assert nothing_left(sim, provision.tag)


def test_bad_token_fails_with_digitalocean_message(sim, owner):
    from tests.factories import make_provider

    provider = make_provider(owner, name="bad", token="wrong-token-0000")
    provision = services.create_provision(owner, provider=provider, name="edge")
    run_queued(provision)
    assert provision.state == ProvisionState.ERROR
    assert provision.failed_step == "ssh_key"
    assert "401" in provision.error and "token" in provision.error


def test_delete_ends_the_clusters_vms_and_frees_their_ports(sim, owner, sim_provider):
    from marketplace import services as market
    from marketplace.choices import AppState
    from marketplace.models import MarketplaceApp
    from provisions.choices import HostState
    from provisions.models import Provision
    from vms import services as vms
    from vms.models import VM, Lease, PortBlock

    provision = services.create_provision(owner, provider=sim_provider, name="vmc", host_count=2)
    run_queued(provision)  # the cloud steps run; host configuration fails (no SSH here)
    # As if configured: RUNNING hosts, but with no address to reach (nothing answers here).
    provision.hosts.update(state=HostState.RUNNING, cpu=4, memory_mb=4096, public_ip="")
    Provision.objects.filter(pk=provision.pk).update(state=ProvisionState.RUNNING)
    provision.refresh_from_db()
    MarketplaceApp.objects.filter(name="Alpine Linux 3.13").update(
        state=AppState.READY, sha256="a" * 64, image_url="http://images.example/a.tar.xz"
    )
    market.export_app(owner, "Alpine Linux 3.13", "Alpine", "vmc-image")
    web = vms.instantiate(owner, "Alpine", name="web", nics=["vmc-public", "vmc-private"])
    vms.instantiate(owner, "Alpine", name="db", nics=["vmc-private"])
    assert PortBlock.objects.count() == 1 and Lease.objects.count() == 2
    # Neither the host nor its VMs can be removed one by one while they run.
    with pytest.raises(ValidationError, match="still runs VM"):
        services.remove_host(owner, provision, web.host)

    services.delete_provision(owner, provision, cleanup=True)
    run_queued(provision)
    assert provision.state == ProvisionState.DONE, provision.error
    assert set(VM.objects.values_list("state", flat=True)) == {"DONE"}
    assert not PortBlock.objects.exists() and not Lease.objects.exists()
    log = list(provision.jobs.order_by("-id").first().lines.values_list("message", flat=True))
    assert "2 VM(s) terminated with the cluster; ports and addresses released" in log
    assert nothing_left(sim, provision.tag)


def test_deploy_and_delete_never_list_the_accounts_ssh_keys(sim, sim_provider, owner):
    """DigitalOcean allows 10 key listings a minute per token: the key is looked up by its
    fingerprint instead, when deploying and when proving it gone."""
    provision = services.create_provision(owner, provider=sim_provider, name="edge")
    run_queued(provision)
    services.delete_provision(owner, provision)
    run_queued(provision)
    assert provision.state == ProvisionState.DONE
    calls = sim.state()["api_calls"]["by_route"]
    assert "GET /v2/account/keys" not in calls
    assert calls["GET /v2/account/keys/([^/]+)"] == 2  # not there yet; gone


def test_a_key_created_before_the_worker_died_is_adopted(sim, sim_provider, owner, monkeypatch):
    provision = services.create_provision(owner, provider=sim_provider, name="edge")
    real_confirm = runs.Run.confirm

    def dying_confirm(self, row, cloud_id, **data):
        if row.kind == "ssh_key":
            raise WorkerKilled("after the key was created")
        return real_confirm(self, row, cloud_id, **data)

    monkeypatch.setattr(runs.Run, "confirm", dying_confirm)
    with pytest.raises(WorkerKilled):
        jobs.run_job(provision.jobs.get().pk)
    monkeypatch.setattr(runs.Run, "confirm", real_confirm)
    services.retry_provision(owner, provision, force=True)
    run_queued(provision)
    assert len(tagged(sim, provision.tag)["ssh_keys"]) == 1
    log = provision.jobs.order_by("-id").first().lines.values_list("message", flat=True)
    assert any(line.startswith(f"SSH key {provision.tag} adopted") for line in log)
