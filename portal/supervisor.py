"""The loop every worker runs beside django-q2's cluster: it records that the worker is alive
(/readyz asks for one seen recently), sweeps job leases of provisions and VMs (so a job whose
worker died is resumed) and, if it holds the `monitor` lease, runs the monitoring cycle. With
many workers, all sweep (cheap, conditional) and exactly one monitors; if that one dies, its
lease expires and another takes over."""

import logging
import os
import socket
import time
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, close_old_connections
from django.db.models import Q
from django.utils import timezone

from consoles import services as consoles
from jobs import leases
from monitoring.cycle import run_cycle
from monitoring.models import WorkerHeartbeat, WorkerLease
from provisions.models import Job
from provisions.services import enqueue_job
from vms.models import VMJob
from vms.services import enqueue_job as enqueue_vm_job

log = logging.getLogger(__name__)

MONITOR_LEASE = "monitor"


def lease_seconds() -> float:
    return max(settings.JOB_LEASE_SECONDS, 3 * settings.MONITOR_INTERVAL)


def hold(name: str, owner: str) -> bool:
    """Take or renew the named lease: one conditional UPDATE (free, expired, or already ours)."""
    now = timezone.now()
    try:
        WorkerLease.objects.get_or_create(name=name)
    except IntegrityError:  # another worker created it at the same moment
        pass
    return bool(
        WorkerLease.objects.filter(name=name)
        .filter(Q(owner=owner) | Q(owner="") | Q(expires_at__lt=now) | Q(expires_at=None))
        .update(owner=owner, expires_at=now + timedelta(seconds=lease_seconds()))
    )


def release(name: str, owner: str) -> None:
    WorkerLease.objects.filter(name=name, owner=owner).update(owner="", expires_at=None)


# Heartbeat rows of workers not seen for this long are dropped (restarts leave one each).
HEARTBEAT_RETENTION = timedelta(days=1)


def tick_interval() -> float:
    return min(settings.MONITOR_INTERVAL, settings.JOB_LEASE_SECONDS / 2)


class Supervisor:
    def __init__(self):
        self.owner = leases.new_owner()
        self.started_at = timezone.now()
        self.cycles = 0

    def beat(self) -> None:
        now = timezone.now()
        WorkerHeartbeat.objects.update_or_create(
            owner=self.owner,
            defaults={"seen_at": now},
            create_defaults={
                "seen_at": now,
                "started_at": self.started_at,
                "hostname": socket.gethostname()[:64],
                "pid": os.getpid(),
            },
        )
        WorkerHeartbeat.objects.filter(seen_at__lt=now - HEARTBEAT_RETENTION).delete()

    def sweep(self) -> list[int]:
        resumed = leases.sweep(Job, enqueue_job)
        if resumed:
            log.warning("resumed provision job(s) %s whose worker was lost", resumed)
        resumed_vm = leases.sweep(VMJob, enqueue_vm_job)
        if resumed_vm:
            log.warning("resumed VM job(s) %s whose worker was lost", resumed_vm)
        lost = consoles.end_lost()
        if lost:
            log.warning("ended %d console session(s) whose server process was lost", lost)
        return resumed + resumed_vm

    def tick(self) -> None:
        try:
            # First: a long monitoring cycle must not make the worker look dead.
            self.beat()
            self.sweep()
            if settings.MONITOR_ENABLED and hold(MONITOR_LEASE, self.owner):
                run_cycle()
                self.cycles += 1
        except Exception:  # the loop must outlive any one bad cycle
            log.exception("supervisor tick failed")
        finally:
            close_old_connections()

    def run(self, running) -> None:
        """Tick every interval while `running()` says so."""
        interval = tick_interval()
        try:
            while running():
                started = time.monotonic()
                self.tick()
                while running() and time.monotonic() - started < interval:
                    time.sleep(min(0.2, interval))
        finally:
            try:
                release(MONITOR_LEASE, self.owner)
                # Stopped in order: no longer counts as a worker seen recently.
                WorkerHeartbeat.objects.filter(owner=self.owner).delete()
            except Exception:
                log.exception("could not release the monitor lease")
