"""A provision against the simulator with real lab hosts: RUNNING, hosts configured over SSH,
delete leaves nothing in the simulator and no lab host."""

import pytest
from django.core.exceptions import ValidationError

from hostexec.ssh import HostSession
from jobs.states import JobState
from lab.docsim import start_in_thread
from lab.hosts import net
from provisions import hostconfig, jobs, runs, services
from provisions.choices import HostState, ProvisionState
from provisions.models import Job
from tests.contract.session import checked
from tests.factories import make_provider
from tests.helpers import WorkerKilled, kill_after_step

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]
HOSTCONFIG = hostconfig.VERSION  # "2" since isolation (subordinate ids, container cgroup)


@pytest.fixture
def lab_sim(lab_hosts, settings):
    with start_in_thread(port=0, boot_delay=0.2, lab_hosts=lab_hosts, vpc_member_linger=1.0) as sim:
        settings.DIGITALOCEAN_API_URL = sim.url + "/v2/"
        settings.PROVISION_POLL_INTERVAL = 0.1
        settings.PROVISION_SSH_WAIT = 20
        settings.JOBS_SYNC = False
        with checked(sim):
            yield sim


def run_queued(provision):
    for job in Job.objects.filter(provision=provision, state=JobState.QUEUED):
        jobs.run_job(job.pk)
    provision.refresh_from_db()
    return provision


def session_for(provision, host):
    return HostSession(
        host.public_ip, private_key=provision.private_key(), host_key=provision.host_key_public
    )


def test_two_host_provision_runs_then_deletes_to_nothing(lab_sim, owner):
    provider = make_provider(owner, name="lab", token="lab-token")
    provision = services.create_provision(owner, provider=provider, name="edge", host_count=2)
    run_queued(provision)
    assert provision.state == ProvisionState.RUNNING, provision.error
    hosts = list(provision.hosts.all())
    assert [h.state for h in hosts] == [HostState.RUNNING, HostState.RUNNING]
    assert all(h.cpu and h.memory_mb and h.hostconfig_version == HOSTCONFIG for h in hosts)
    for host in hosts:
        with session_for(provision, host) as session:
            session.connect()
            assert session.run("command -v lxc-start").exit_status == 0
            assert "192.168.150.1/24" in session.run("ip -4 addr show onebr0").stdout
            assert session.run("sysctl -n net.ipv4.ip_forward").stdout.strip() == "1"
            nat = session.run("iptables -t nat -S").stdout
            assert "-N ONE-PORTFWD" in nat and "-A PREROUTING -j ONE-PORTFWD" in nat
            assert "MASQUERADE" in nat
            base = session.run("cat $ONE_EDGE_BASE/hostconfig.version").stdout.strip()
            assert base == HOSTCONFIG
    # Running the host set-up again changes nothing (idempotent) and still succeeds.
    with session_for(provision, hosts[0]) as session:
        session.connect()
        before = session.run("iptables -t nat -S").stdout
        from provisions import hostconfig

        hostconfig.configure(session)
        assert session.run("iptables -t nat -S").stdout == before

    namespaces = {f"edgelab-{h.droplet_id}" for h in hosts}
    assert namespaces <= set(net.namespaces())
    services.delete_provision(owner, provision)
    run_queued(provision)
    assert provision.state == ProvisionState.DONE, provision.error
    state = lab_sim.state_snapshot()
    assert not [d for d in state["droplets"] if provision.tag in d["tags"]]
    assert not [f for f in state["firewalls"] if f["name"] == provision.tag]
    assert not namespaces & set(net.namespaces())


def test_changed_host_key_is_refused(lab_sim, owner, lab_hosts):
    provider = make_provider(owner, name="lab", token="lab-token")
    provision = services.create_provision(owner, provider=provider, name="edge")
    run_queued(provision)
    assert provision.state == ProvisionState.RUNNING, provision.error
    host = provision.hosts.get()
    # The host is rebuilt behind our back with a new host key (a fresh sshd key, no user data).
    directory = lab_hosts.host_dir(host.droplet_id)
    info = (directory / "info").read_text().split()
    lab_hosts.destroy(host.droplet_id)
    lab_hosts.create(
        droplet_id=host.droplet_id,
        name=info[0],
        public_ip=info[1],
        private_ip=info[2],
        private_prefix=20,
        vpc_uuid=info[3],
        authorized_keys=[provision.ssh_public_key],
    )
    # Reconfigure it: the host is marked unconfigured and the provision re-run.
    provision.hosts.update(state=HostState.INIT)
    type(provision).objects.filter(pk=provision.pk).update(state=ProvisionState.ERROR)
    provision.refresh_from_db()
    services.retry_provision(owner, provision)
    run_queued(provision)
    assert provision.state == ProvisionState.ERROR
    assert provision.failed_step == "configure_hosts"
    assert "refusing to connect" in provision.error
    assert provision.host_key_fingerprint in provision.error
    services.delete_provision(owner, provision)
    run_queued(provision)
    assert provision.state == ProvisionState.DONE


def test_add_and_remove_a_host(lab_sim, owner):
    provider = make_provider(owner, name="lab", token="lab-token")
    provision = services.create_provision(owner, provider=provider, name="grow")
    run_queued(provision)
    assert provision.state == ProvisionState.RUNNING, provision.error
    services.add_host(owner, provision)
    run_queued(provision)
    assert provision.state == ProvisionState.RUNNING, provision.error
    hosts = list(provision.hosts.all())
    assert [h.state for h in hosts] == [HostState.RUNNING, HostState.RUNNING]
    assert hosts[1].name == "grow-host-1" and hosts[1].cpu
    assert len(lab_sim.state_snapshot()["droplets"]) == 2

    # The first host is the EVPN route reflector and learned of the new host; the second peers
    # with it only.
    frr = 'cat "$ONE_EDGE_BASE/frr/frr.conf"'
    with session_for(provision, hosts[0]) as session:
        session.connect()
        assert f"neighbor {hosts[1].private_ip} peer-group evpn" in session.run(frr).stdout
    with session_for(provision, hosts[1]) as session:
        session.connect()
        assert "route-reflector-client" not in session.run(frr).stdout
        assert f"neighbor {hosts[0].private_ip} peer-group evpn" in session.run(frr).stdout

    services.remove_host(owner, provision, hosts[0])
    run_queued(provision)
    # The reflector role moved to the host that is left.
    with session_for(provision, hosts[1]) as session:
        session.connect()
        config = session.run(frr).stdout
        assert "route-reflector-client" in config and hosts[0].private_ip not in config
    provision.refresh_from_db()
    assert provision.state == ProvisionState.RUNNING and provision.host_count == 1
    assert provision.hosts.get(pk=hosts[0].pk).state == HostState.REMOVED
    (left,) = lab_sim.state_snapshot()["droplets"]
    assert left["name"] == "grow-host-1"
    assert f"edgelab-{hosts[0].droplet_id}" not in net.namespaces()
    with pytest.raises(ValidationError, match="cannot remove the last host"):
        services.remove_host(owner, provision, hosts[1])
    services.delete_provision(owner, provision)
    run_queued(provision)
    assert provision.state == ProvisionState.DONE


@pytest.mark.parametrize(
    "crash_after",
    ["ssh_key", "vpc", "droplets", "wait_active", "firewall", "configure_hosts", "private_network"],
)
def test_deploy_killed_after_each_step_resumes_to_running(lab_sim, owner, monkeypatch, crash_after):
    provider = make_provider(owner, name="lab", token="lab-token")
    provision = services.create_provision(owner, provider=provider, name="crash", host_count=2)
    with monkeypatch.context() as patched, pytest.raises(WorkerKilled):
        kill_after_step(patched, runs.DeployRun, crash_after)
        jobs.run_job(provision.jobs.get().pk)
    provision.refresh_from_db()
    services.retry_provision(owner, provision, force=True)
    run_queued(provision)
    assert provision.state == ProvisionState.RUNNING, provision.error
    droplets = [d for d in lab_sim.state_snapshot()["droplets"] if provision.tag in d["tags"]]
    assert sorted(d["name"] for d in droplets) == ["crash-host-0", "crash-host-1"]
    services.delete_provision(owner, provision)
    run_queued(provision)
    assert provision.state == ProvisionState.DONE
    assert not [d for d in lab_sim.state_snapshot()["droplets"] if provision.tag in d["tags"]]
    assert not [ns for ns in net.namespaces() if ns.startswith("edgelab-")]


def test_deploy_and_delete_under_a_token_that_used_most_of_its_minute(lab_sim, owner):
    """The lab variant of tests/provisions/test_rate_limited_deploy.py: real hosts, the real
    limits with a minute shrunk to 9 s (host set-up and teardown take seconds)."""
    lab_sim.set_faults(rate_time_scale=0.15)
    provider = make_provider(owner, name="lab", token="lab-token")
    lab_sim.spend("lab-token", 245)
    provision = services.create_provision(owner, provider=provider, name="busy", host_count=2)
    run_queued(provision)
    assert provision.state == ProvisionState.RUNNING, provision.error
    lab_sim.spend("lab-token", 245)
    services.delete_provision(owner, provision)
    run_queued(provision)
    assert provision.state == ProvisionState.DONE, provision.error
    for job in provision.jobs.all():
        log = " ".join(job.lines.values_list("message", flat=True))
        assert "rate limited: " in log and " × 429, waited " in log, job.kind
    assert lab_sim.state()["api_calls"]["rate_limited"]["per-minute"] >= 2
