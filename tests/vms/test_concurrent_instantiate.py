"""Many users' worth of concurrent instantiations: every VM gets its own ports and address."""

from collections import Counter

import pytest

from core.quotas import Quota
from tests.concurrency import run_in_threads
from vms import services
from vms.models import NIC, VM, PortBlock

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8
PER_THREAD = 5


@pytest.fixture(autouse=True)
def _queue_jobs_only(settings):
    settings.JOBS_SYNC = False


@pytest.fixture
def cluster(cluster):
    """Room for many VMs."""
    cluster.hosts.update(cpu=100, memory_mb=100000)
    return cluster


def test_concurrent_instantiations_never_share_ports_or_addresses(owner, cluster, template):
    Quota.objects.create(user=owner, vms=1000, cpu=1000, memory_mb=1_000_000)

    def work(thread):
        for round_ in range(PER_THREAD):
            services.instantiate(owner, "Alpine", name=f"vm{thread}-{round_}", nics=["dc-public"])

    errors = run_in_threads(work, THREADS)

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


def test_concurrent_instantiations_respect_the_vm_quota(owner, cluster, template):
    Quota.objects.create(user=owner, vms=3, cpu=1000, memory_mb=1_000_000)
    errors = run_in_threads(
        lambda thread: services.instantiate(owner, "Alpine", name=f"q{thread}", nics=["dc-public"]),
        THREADS,
    )
    assert VM.objects.count() == 3
    assert len(errors) == THREADS - 3
    assert all("VMS 3 of 3 used" in str(exc) for exc in errors)
