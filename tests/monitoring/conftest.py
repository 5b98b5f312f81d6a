from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring import cycle
from monitoring.models import HostSample, VMSample
from monitoring.probe import Container, HostReading
from provisions.models import Host
from vms import services as vm_services
from vms.models import VM

MIB = 1024 * 1024


@pytest.fixture
def vm(owner, template):
    """A RUNNING VM 'web' on the cluster (no container behind it: samples are made here)."""
    vm = vm_services.instantiate(owner, "Alpine", name="web", nics=["dc-public"])
    VM.objects.filter(pk=vm.pk).update(state="RUNNING")
    vm.refresh_from_db()
    return vm


def vm_samples(vm, rows, *, step=30, end=None):
    """One VMSample per (cpu_percent, memory_mb, net_rx_bytes, net_tx_bytes), `step` seconds
    apart, the last at `end` (now); returns their times."""
    end = end or timezone.now()
    times = [end - timedelta(seconds=step * (len(rows) - 1 - i)) for i in range(len(rows))]
    VMSample.objects.bulk_create(
        VMSample(
            vm=vm,
            at=at,
            cpu_seconds=10.0 * i,
            cpu_percent=cpu,
            memory_mb=memory,
            net_rx_bytes=rx,
            net_tx_bytes=tx,
        )
        for i, (at, (cpu, memory, rx, tx)) in enumerate(zip(times, rows, strict=True))
    )
    return times


def host_samples(host, count, *, step=30, end=None, used_mb=512, vms_running=1):
    end = end or timezone.now()
    HostSample.objects.bulk_create(
        HostSample(
            host=host,
            at=end - timedelta(seconds=step * (count - 1 - i)),
            cpu_total_ticks=1000 * i,
            cpu_idle_ticks=800 * i,
            cpu_percent=None if i == 0 else 20.0 + i,
            load1=0.5,
            memory_total_mb=2048,
            memory_used_mb=used_mb + i,
            disk_total_mb=10000,
            disk_used_mb=2500,
            vms_running=vms_running,
        )
        for i in range(count)
    )


def reading(containers=(), total=1000, idle=800):
    return HostReading(
        cpu_total_ticks=total,
        cpu_idle_ticks=idle,
        load1=0.5,
        memory_total_mb=2048,
        memory_used_mb=512,
        disk_total_mb=10000,
        disk_used_mb=2500,
        containers={c.name: c for c in containers},
    )


def container(vm, state="RUNNING", cpu=1.0, rx=1000, tx=500):
    return Container(vm.container_name, state, cpu, 24.0, rx, tx)


@pytest.fixture
def world(cluster, template, owner, settings):
    settings.MONITOR_HOST_FAILURES = 2
    Host.objects.filter(provision=cluster).update(hostconfig_version="1")
    vm = vm_services.instantiate(owner, "Alpine", name="web", nics=["dc-public"])
    VM.objects.filter(pk=vm.pk).update(state="RUNNING")
    vm.refresh_from_db()
    return {"vm": vm, "host": vm.host}


@pytest.fixture
def probes(monkeypatch):
    """What each host answers this cycle: a HostReading, or an exception to raise."""
    answers = {}

    def fake(host):
        answer = answers.get(host.pk, reading())
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(cycle, "probe", fake)
    return answers
