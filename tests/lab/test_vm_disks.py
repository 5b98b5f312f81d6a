"""A VM's disk on a real lab host: a VM that writes past its size gets ENOSPC inside while its
neighbour still writes and the host still answers (SSH, monitoring); the disk grows online and
`df` inside sees it where this machine's root may grow a mounted filesystem, and otherwise the
refusal changes nothing; a terminated VM leaves no disk mounted."""

import pytest
from django.core.exceptions import ValidationError

from monitoring.cycle import run_cycle
from monitoring.models import VMSample
from tests.lab.helpers import in_vm, on_host
from vms import disks, services
from vms.models import VM

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]

DISK_MB = 96


@pytest.fixture
def small_disks(settings):
    # Set before the cluster's VMs are made: both get a 96 MB disk.
    settings.VM_DISK_MB_DEFAULT = DISK_MB


def df_kib(vm) -> tuple[int, int]:
    """(size, used) of the VM's / in KiB, as the VM's own df reads them."""
    fields = in_vm(vm, "df -k / | tail -n 1").stdout.split()
    return int(fields[1]), int(fields[2])


def can_resize_online() -> bool:
    """Whether this machine's root may grow a mounted ext4 (CAP_SYS_RESOURCE, bit 24)."""
    with open("/proc/self/status") as status:
        caps = next(line for line in status if line.startswith("CapEff:"))
    return bool(int(caps.split()[1], 16) & (1 << 24))


def init_pid(provision, vm) -> str:
    command = f'lxc-info -P "$ONE_EDGE_BASE/lxc" -n {vm.container_name} -pH'
    return on_host(provision, vm.host, command).strip()


def test_a_full_disk_stops_at_its_size_and_nobody_else_notices(
    small_disks, cluster_with_vms, owner
):
    provision, (full, neighbour) = cluster_with_vms
    host = full.host
    assert full.disk_mb == DISK_MB
    size, _ = df_kib(full)
    assert (DISK_MB - 16) * 1024 < size <= DISK_MB * 1024, size

    written = in_vm(
        full, "dd if=/dev/zero of=/fill bs=1M count=400 2>&1; echo exit=$?", timeout=120
    )
    assert "No space left on device" in written.stdout and "exit=0" not in written.stdout
    # The neighbour and the host keep their room and answer.
    ok = in_vm(neighbour, "dd if=/dev/zero of=/ten bs=1M count=10 2>&1 && echo wrote")
    assert "wrote" in ok.stdout, ok.stdout
    assert on_host(provision, host, "echo alive").strip() == "alive"
    run_cycle(with_drift=False)
    used = VMSample.objects.filter(vm=full).latest("at").disk_used_mb
    assert used is not None and used > (DISK_MB - 16), used

    # Online growth is the kernel's and needs CAP_SYS_RESOURCE, which a droplet's root has
    # (the droplet suite grows a disk) and this machine's root may not: here, the refusal.
    pid = init_pid(provision, full)
    if can_resize_online():
        disks.grow(owner, full, 2 * DISK_MB)
        size, _ = df_kib(full)
        assert size > (DISK_MB + 32) * 1024, size
        assert "wrote" in in_vm(full, "dd if=/dev/zero of=/more bs=1M count=20 && echo w").stdout
        assert VM.objects.get(pk=full.pk).disk_mb == 2 * DISK_MB
    else:
        with pytest.raises(ValidationError, match="the disk was not grown: .*Permission denied"):
            disks.grow(owner, full, 2 * DISK_MB)
        assert df_kib(full)[0] == size  # nothing changed, not even the file's size
        image = f'"$ONE_EDGE_BASE/lxc/{full.container_name}/disk.img"'
        assert on_host(provision, host, f"stat -c %s {image}").strip() == str(DISK_MB * 2**20)
        assert VM.objects.get(pk=full.pk).disk_mb == DISK_MB
    assert init_pid(provision, full) == pid  # never restarted

    # Terminated: nothing of it stays mounted on the host.
    services.act(owner, full, "terminate")
    mounts = on_host(provision, host, "cat /proc/self/mounts")
    assert f"/{full.container_name}/" not in mounts
