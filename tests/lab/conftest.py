"""Lab tests need root (network namespaces, LXC, iptables). Elsewhere they skip with a loud
reason; with EDGE_LAB_REQUIRED=1 (CI) a missing requirement is a failure, not a skip."""

import os
import shutil

import pytest

from core.models import ApiToken
from lab.docsim import start_in_thread
from lab.images import ensure_alpine_rootfs, start_image_server
from marketplace import services as market
from marketplace import sync
from marketplace.models import Marketplace
from provisions import services
from provisions.choices import ProvisionState
from tests.contract.session import checked
from tests.factories import make_provider
from vms import services as vm_services

NEEDED_COMMANDS = ("ip", "sshd", "ssh-keygen", "lxc-start", "iptables")


def lab_problem() -> str | None:
    if os.geteuid() != 0:
        return "the edge-host lab needs root (network namespaces, LXC, iptables)"
    missing = [
        c
        for c in NEEDED_COMMANDS
        if shutil.which(c) is None and not os.path.exists(f"/usr/sbin/{c}")
    ]
    if missing:
        return f"the edge-host lab needs {', '.join(missing)} (run `make lab-deps`)"
    return None


def require_lab() -> None:
    problem = lab_problem()
    if problem is None:
        return
    if os.environ.get("EDGE_LAB_REQUIRED") == "1":
        pytest.fail(f"EDGE_LAB_REQUIRED=1 but {problem}")
    pytest.skip(f"LAB TEST SKIPPED: {problem}")


VM_COMMANDS = ("qemu-system-x86_64", "qemu-img", "debootstrap", "ebtables", "nsenter")


def require_vm_lab() -> None:
    require_lab()
    missing = [c for c in VM_COMMANDS if shutil.which(c) is None]
    if missing:
        problem = f"vm droplets need {', '.join(missing)} (qemu-system-x86, debootstrap, ebtables)"
        if os.environ.get("EDGE_LAB_REQUIRED") == "1":
            pytest.fail(f"EDGE_LAB_REQUIRED=1 but {problem}")
        pytest.skip(f"LAB TEST SKIPPED: {problem}")


@pytest.fixture
def lab_hosts(tmp_path_factory):
    require_lab()
    from lab.hosts import LabHosts

    hosts = LabHosts(tmp_path_factory.mktemp("edge-lab"))
    yield hosts
    hosts.destroy_all()


@pytest.fixture
def lab_world(lab_hosts, live_server, owner, settings, monkeypatch, tmp_path):
    image = ensure_alpine_rootfs()
    # DigitalOcean releases a deleted droplet's VPC membership minutes later; here in 1 s.
    with (
        start_in_thread(port=0, boot_delay=0.2, lab_hosts=lab_hosts, vpc_member_linger=1.0) as sim,
        checked(sim),
    ):
        # Lab hosts reach it through the lab bridge, which only exists once a host does.
        server, url = start_image_server(host="0.0.0.0", cache=image.path.rsplit("/", 1)[0])  # noqa: S104
        settings.DIGITALOCEAN_API_URL = sim.url + "/v2/"
        settings.PROVISION_POLL_INTERVAL = 0.1
        settings.PROVISION_SSH_WAIT = 20
        settings.JOBS_SYNC = True  # no worker process here: jobs run inside the API request
        # The image server is this machine on the lab bridge: a private address the portal
        # fetches the index from and tells lab hosts to download from.
        settings.OUTBOUND_ALLOWED_NETWORKS = ["198.18.0.1/32"]
        _, raw = ApiToken.issue(owner, "tutorial")
        monkeypatch.setenv("PORTAL_URL", live_server.url)
        monkeypatch.setenv("PORTAL_TOKEN", raw)
        monkeypatch.setenv("ONEPROVISION_POLL", "0.2")
        port = server.server_address[1]
        Marketplace.objects.filter(name="Edge Lab").update(
            index_url=f"http://198.18.0.1:{port}/index.json"
        )
        yield {"sim": sim, "image": image, "tmp": tmp_path}
        server.shutdown()
        server.server_close()


@pytest.fixture
def cluster_with_vms(lab_world, owner, settings, request):
    """A RUNNING lab cluster (hosts from the test's `hosts` marker, default 1) with two
    RUNNING VMs from the lab's Alpine image."""
    settings.MONITOR_HOST_FAILURES = 2
    marker = request.node.get_closest_marker("hosts")
    count = marker.args[0] if marker else 1
    provider = make_provider(owner, name="lab", token="lab-token")
    provision = services.create_provision(owner, provider=provider, name="mon", host_count=count)
    provision.refresh_from_db()
    assert provision.state == ProvisionState.RUNNING, provision.error
    sync.sync(Marketplace.objects.get(name="Edge Lab"))
    market.export_app(owner, lab_world["image"].name, "Alpine", "mon-image")
    vms = [
        vm_services.instantiate(owner, "Alpine", name=f"vm{i}", nics=["mon-public"])
        for i in range(2)
    ]
    for vm in vms:
        vm.refresh_from_db()
        assert vm.state == "RUNNING", vm.failure_reason
    return provision, vms


@pytest.fixture(scope="session")
def object_store():
    """The lab's S3 API server (moto, authenticating), reached by lab hosts on the lab bridge."""
    require_lab()
    from lab.objectstore import ObjectStore

    with ObjectStore() as store:
        yield store


def lab_backup_store(owner, object_store):
    """The owner's default backup store in the lab's object store, set up as a user would. On
    the lab bridge's address: made once a lab host (and so the bridge) exists."""
    from backups import stores

    return stores.create(
        owner,
        {
            "name": "lab-objects",
            "endpoint": object_store.endpoint("198.18.0.1"),
            "region": "us-east-1",
            "bucket": object_store.bucket,
            "access_key": object_store.access_key,
            "secret_key": object_store.secret_key,
        },
    )
