"""VM backups and recovery in the edge-host lab (root), against the lab's S3 server (moto) on
this machine:

1. a RUNNING Alpine VM with 100 MB and then 1 GB of random data written to its disk: the first
   backup (time, bytes uploaded, how long the VM was frozen), a second after 10 MB of the data
   changed (incremental: only the changed chunks go up), and a restore in place (fetched,
   checked against restic's checksums, the VM running again);
2. host loss: a two-host cluster with three backed-up VMs on one host, whose sshd is then
   killed; the time until all three run on the other host, restored from their backups. The
   monitoring cycles are run back to back (the detection needs MONITOR_HOST_FAILURES +
   HOST_RECOVERY_CYCLES of them, each MONITOR_INTERVAL apart in production), so the figure is
   the portal's own work; the table adds the cycles' wait at the production settings.

Uploads go to this machine's loopback-fast store: real Spaces add the network's time. Without
the lab the tables say why they were skipped.
"""

import sys
import time

from bench import common, labworld

TITLE = "vm_backups: backup (first, then after 10 MB changed) and restore, 100 MB and 1 GB"
HEADERS = ["data written", "backup", "s", "uploaded", "frozen ms", "restore s"]
LABELS = ["100 MB", "100 MB", "1 GB", "1 GB"]
LOSS_TITLE = "vm_backups: a lost host, until its VMs run elsewhere from their backups"
LOSS_HEADERS = ["VMs", "cycles", "work s", "fence s", "restores s", "with production cycles s"]
SIZES_MB = (100, 1024)
CHANGED_MB = 10
LOST_VMS = 3


def main() -> int:
    lab, reason = labworld.lab_or_reason()
    if not lab:
        common.skipped(TITLE, reason, HEADERS, LABELS)
        common.skipped(LOSS_TITLE, reason, LOSS_HEADERS, [str(LOST_VMS)])
        return 0
    from lab.objectstore import ObjectStore

    with common.django_env("vm_backups") as database, ObjectStore() as objects:
        from django.conf import settings

        from lab.images import ensure_alpine_rootfs, start_image_server

        image = ensure_alpine_rootfs()
        settings.PROVISION_POLL_INTERVAL = 0.1
        settings.PROVISION_SSH_WAIT = 20
        settings.VM_DISK_MB_DEFAULT = 3072
        server, _ = start_image_server(host="0.0.0.0", cache=image.path.rsplit("/", 1)[0])  # noqa: S104
        port = server.server_address[1]
        try:
            with labworld.simulator(lab=True, boot_delay=0.2) as sim:
                vm = labworld.running_vm(image.name, port, "backbench", "data")
                _store(vm.owner, objects)
                rows = [row for size in SIZES_MB for row in measure(vm, size)]
                loss = measure_loss(sim, image.name, port)
        finally:
            server.shutdown()
            server.server_close()
    common.table(
        TITLE,
        HEADERS,
        rows,
        [
            f"{database}; {common.machine()}; one lab host (a network namespace on this "
            "machine); the store: moto's S3 server on this machine",
            "backup: the job's wall time (the frozen copy, restic's upload), run inline; "
            "uploaded: restic's data_added; restore: fetched, verified, disk replaced, started",
        ],
    )
    common.table(
        LOSS_TITLE,
        LOSS_HEADERS,
        [loss],
        [
            "cycles: monitoring cycles from the sshd killed to the fence job "
            f"(MONITOR_HOST_FAILURES {settings.MONITOR_HOST_FAILURES} + HOST_RECOVERY_CYCLES "
            f"{settings.HOST_RECOVERY_CYCLES} - 1: the cycle that finds the host ERROR is its "
            "first in ERROR), run back to back; fence: the job's power-off; restores: from the "
            "host fenced to the last VM RUNNING; work: from the kill to all "
            "VMs RUNNING; with production cycles: work plus those cycles at "
            f"MONITOR_INTERVAL {settings.MONITOR_INTERVAL} s and the production "
            f"HOST_RECOVERY_CYCLES ({PRODUCTION_RECOVERY_CYCLES})",
        ],
    )
    big_first, big_next = rows[2], rows[3]
    common.summary(
        f"1 GB written: first backup {big_first[2]:.1f} s ({big_first[3]} up, frozen "
        f"{big_first[4]} ms), after {CHANGED_MB} MB changed {big_next[2]:.1f} s ({big_next[3]} "
        f"up), restore {big_first[5]:.1f} s; a lost host's {loss[0]} VMs running elsewhere "
        f"{loss[2]:.1f} s after the loss (cycles back to back)"
    )
    return 0


PRODUCTION_RECOVERY_CYCLES = 10


def _store(user, objects):
    from backups import stores

    return stores.create(
        user,
        {
            "name": "bench-objects",
            "endpoint": objects.endpoint(labworld.LAB_GATEWAY),
            "region": "us-east-1",
            "bucket": objects.bucket,
            "access_key": objects.access_key,
            "secret_key": objects.secret_key,
        },
    )


def _in_vm(vm, script: str, timeout: float = 900):
    from vms import lxc

    done = lxc.execute(vm, ["sh", "-c", script], timeout)
    if done.exit_status != 0:
        raise SystemExit(f"{script[:60]} in the VM failed: {done.stderr[-300:]}")
    return done.stdout


def _backup(vm):
    from backups import services

    started = time.perf_counter()
    taken = services.backup(vm.owner, vm)
    seconds = time.perf_counter() - started
    taken.refresh_from_db()
    if taken.state != "READY":
        raise SystemExit(f"backup not taken: {taken.error}")
    return taken, seconds


def measure(vm, size_mb: int) -> list[list]:
    from backups import services
    from core.units import human_bytes

    _in_vm(vm, f"rm -f /data; head -c {size_mb * 2**20} /dev/urandom > /data && sync")
    checksum = _in_vm(vm, "sha256sum /data").split()[0]
    first, first_s = _backup(vm)
    _in_vm(
        vm,
        f"dd if=/dev/urandom of=/data bs=1M count={CHANGED_MB} seek={size_mb // 2} "
        "conv=notrunc 2>/dev/null && sync",
    )
    second, second_s = _backup(vm)
    _in_vm(vm, "rm /data && sync")
    started = time.perf_counter()
    services.restore(vm.owner, vm, first.pk)
    restored = time.perf_counter() - started
    vm.refresh_from_db()
    if vm.state != "RUNNING" or _in_vm(vm, "sha256sum /data").split()[0] != checksum:
        raise SystemExit(f"restore of {size_mb} MB did not bring the data back ({vm.state})")
    label = f"{size_mb} MB" if size_mb < 1024 else f"{size_mb // 1024} GB"
    return [
        [label, "first", round(first_s, 2), human_bytes(first.uploaded_bytes),
         first.freeze_ms, round(restored, 2)],
        [label, f"+{CHANGED_MB} MB changed", round(second_s, 2),
         human_bytes(second.uploaded_bytes), second.freeze_ms, "-"],
    ]  # fmt: skip


def measure_loss(sim, app_name: str, port: int) -> list:
    from django.conf import settings
    from django.db.models import Max
    from django.utils import timezone

    from monitoring.cycle import run_cycle
    from provisions.models import Host, Job
    from vms.models import VMEvent

    settings.HOST_RECOVERY_CYCLES = 2
    settings.VM_DISK_MB_DEFAULT = 256
    vms = labworld.running_vms(
        app_name, port, "lossbench", [f"lost{n}" for n in range(LOST_VMS * 2)], host_count=2
    )
    lost = vms[0].host
    victims = [vm for vm in vms if vm.host_id == lost.pk]
    for vm in victims:
        _in_vm(vm, "head -c 20000000 /dev/urandom > /data && sync")
        _backup(vm)
    killed_at = timezone.now()
    sim.server.lab_hosts.kill_sshd(lost.droplet_id)
    cycles = 0
    while not Job.objects.filter(kind="fence").exists():
        run_cycle()  # jobs run inline: the fence job and the VMs' restores within it
        cycles += 1
        if cycles > 20:
            raise SystemExit("the lost host was never fenced")
    fence = Job.objects.get(kind="fence")
    host = Host.objects.get(pk=lost.pk)
    back = VMEvent.objects.filter(vm__in=victims, to_state="RUNNING", at__gt=killed_at)
    if back.values("vm").distinct().count() != len(victims) or host.fenced_at is None:
        raise SystemExit(f"not every VM came back: fence {fence.state} {fence.error}")
    running_at = back.aggregate(last=Max("at"))["last"]
    work = (running_at - killed_at).total_seconds()
    # The cycle that finds the host ERROR is its first in ERROR.
    waiting = (settings.MONITOR_HOST_FAILURES + PRODUCTION_RECOVERY_CYCLES - 1) * (
        settings.MONITOR_INTERVAL
    )
    return [
        len(victims),
        cycles,
        round(work, 1),
        round((host.fenced_at - fence.started_at).total_seconds(), 2),
        round((running_at - host.fenced_at).total_seconds(), 1),
        round(work + waiting),
    ]


if __name__ == "__main__":
    sys.exit(main())
