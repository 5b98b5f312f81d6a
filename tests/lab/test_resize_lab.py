"""Live resize on a lab host: the cgroup files read on the host before and after, the
container's init unchanged (no restart), its config file rewritten for its next start, a
memory limit below what the VM uses refused by the host with nothing changed, and a POWEROFF
VM's new limits taken at its next start."""

import shlex
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from tests.lab.helpers import in_vm, on_host
from vms import resize, services

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]

LXC = '-P "$ONE_EDGE_BASE/lxc"'
MIB = 1024 * 1024


def read(provision, vm, *keys: str) -> dict:
    """Each cgroup key's value, as lxc-cgroup reads it on the host."""
    name = shlex.quote(vm.container_name)
    command = "; ".join(f"lxc-cgroup {LXC} -n {name} {shlex.quote(k)}" for k in keys)
    # lxc-cgroup prints a blank line after each value.
    values = [line for line in on_host(provision, vm.host, command).splitlines() if line]
    return dict(zip(keys, values, strict=True))


def init_pid(provision, vm) -> str:
    name = shlex.quote(vm.container_name)
    return on_host(provision, vm.host, f"lxc-info {LXC} -n {name} -pH").strip()


def config(provision, vm) -> str:
    path = f'"$ONE_EDGE_BASE/lxc/{vm.container_name}/config"'
    return on_host(provision, vm.host, f"cat {path}")


def test_live_resize_keeps_the_container_running(cluster_with_vms, owner):
    provision, (vm, _) = cluster_with_vms
    v2 = on_host(provision, vm.host, "test -f /sys/fs/cgroup/cgroup.controllers && echo v2")
    if v2.strip() == "v2":
        memory, cpu, quota, prefix = "memory.max", "cpu.weight", "cpu.max", "lxc.cgroup2"
        shares, quota_set, quota_none = "200", "50000 100000", "max 100000"
    else:
        memory, cpu, quota, prefix = (
            "memory.limit_in_bytes",
            "cpu.shares",
            "cpu.cfs_quota_us",
            ("lxc.cgroup"),
        )
        shares, quota_set, quota_none = "2048", "50000", "-1"
    pid = init_pid(provision, vm)
    before = read(provision, vm, memory, cpu, quota)
    assert before[memory] == str(256 * MIB)

    vm = resize.resize(owner, vm, cpu=2, memory_mb=384, cpu_quota=Decimal("0.5"))

    assert read(provision, vm, memory, cpu, quota) == {
        memory: str(384 * MIB),
        cpu: shares,
        quota: quota_set,
    }
    assert init_pid(provision, vm) == pid  # the same init: no restart
    text = config(provision, vm)
    assert f"{prefix}.{memory} = 384M" in text and f"{prefix}.{cpu} = {shares}" in text
    assert f"{prefix}.{quota} = {quota_set}" in text
    assert text.count(f"{prefix}.{memory} =") == 1 and "lxc.rootfs.path = " in text
    if prefix == "lxc.cgroup":  # swap on top of memory: cgroup v1's memsw follows
        assert read(provision, vm, "memory.memsw.limit_in_bytes")[
            "memory.memsw.limit_in_bytes"
        ] == str(384 * MIB)
    log = list(vm.log.values_list("message", flat=True))
    assert "resized (live): cpu 1 -> 2, memory 256 -> 384 MiB, cpu quota none -> 0.5" in log
    assert any(line.startswith(f"{vm.host.name}: BEFORE {memory}={256 * MIB}") for line in log)

    # Cleared quota: no limit live, no line in the config.
    vm = resize.resize(owner, vm, cpu_quota=None)
    assert read(provision, vm, quota)[quota] == quota_none
    assert f"{prefix}.{quota} =" not in config(provision, vm)

    # 64 MiB written in the VM (its page cache is charged to it): 32 MiB is refused by the
    # host (no monitoring sample here to refuse it sooner), and nothing changes.
    assert in_vm(vm, "dd if=/dev/zero of=/fill bs=1M count=64 2>&1").exit_status == 0
    with pytest.raises(ValidationError, match=r"refused: one-\d+ uses \d+ MiB of memory now"):
        resize.resize(owner, vm, memory_mb=32)
    assert read(provision, vm, memory)[memory] == str(384 * MIB)
    vm.refresh_from_db()
    assert vm.memory_mb == 384
    assert init_pid(provision, vm) == pid

    # A POWEROFF VM: its config only, applied when it starts again.
    services.act(owner, vm, "poweroff")  # the job runs inline (JOBS_SYNC)
    vm.refresh_from_db()
    vm = resize.resize(owner, vm, memory_mb=320)
    assert f"{prefix}.{memory} = 320M" in config(provision, vm)
    assert vm.log.filter(message__startswith="resized (at its next start)").exists()
    services.act(owner, vm, "resume")
    assert read(provision, vm, memory)[memory] == str(320 * MIB)
