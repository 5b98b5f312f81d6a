"""Many users' worth of concurrent instantiations: every VM gets its own ports and address."""

import threading
from collections import Counter

import pytest
from django.db import connections

from marketplace import services as market
from marketplace.choices import AppState
from marketplace.models import MarketplaceApp
from provisions import services as provisions
from provisions.choices import HostState
from provisions.models import Provision
from tests.providers.test_api import make_provider
from vms import services
from vms.models import NIC, VM, PortBlock, UserQuota

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8
PER_THREAD = 5


@pytest.fixture(autouse=True)
def _queue_jobs_only(settings):
    settings.JOBS_SYNC = False


@pytest.fixture
def cluster(owner):
    provider = make_provider(owner, name="do")
    provision = provisions.create_provision(owner, provider=provider, name="dc", host_count=2)
    Provision.objects.filter(pk=provision.pk).update(state="RUNNING")
    provision.hosts.update(
        state=HostState.RUNNING, cpu=100, memory_mb=100000, public_ip="198.18.0.9"
    )
    provision.refresh_from_db()
    return provision


@pytest.fixture
def template(owner, cluster):
    app = MarketplaceApp.objects.get(name="Alpine Linux 3.13")
    app.state, app.sha256 = AppState.READY, "a" * 64
    app.image_url = "http://images.example/alpine.tar.xz"
    app.save()
    return market.export_app(owner, "Alpine Linux 3.13", "Alpine", "dc-image")[1]


def test_concurrent_instantiations_never_share_ports_or_addresses(owner, cluster, template):
    UserQuota.objects.create(user=owner, vms=1000, cpu=1000, memory_mb=1_000_000)
    errors = []
    start = threading.Barrier(THREADS)

    def worker(thread):
        try:
            start.wait()
            for round_ in range(PER_THREAD):
                services.instantiate(
                    owner, "Alpine", name=f"vm{thread}-{round_}", nics=["dc-public"]
                )
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert VM.objects.count() == THREADS * PER_THREAD
    assert NIC.objects.count() == PortBlock.objects.count() == THREADS * PER_THREAD
    blocks = Counter(PortBlock.objects.values_list("host_id", "block"))
    assert [key for key, n in blocks.items() if n > 1] == []
    addresses = Counter(NIC.objects.filter(network__kind="public").values_list("vm__host_id", "ip"))
    assert [key for key, n in addresses.items() if n > 1] == []
    assert None not in {ip for _, ip in addresses}
    # Both hosts took VMs: placement saw the others' VMs, not a stale snapshot.
    assert set(VM.objects.values_list("host_id", flat=True)) == set(
        cluster.hosts.values_list("pk", flat=True)
    )
