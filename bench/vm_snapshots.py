"""VM snapshots in the edge-host lab (root): a RUNNING Alpine VM with 100 MB and then 1 GB of
data written to its disk, a snapshot taken and reverted to each time.

Figures: create (the job: the container and its filesystem frozen, the disk file copied, both
thawed), the freeze itself (how long the VM's processes stood still: what a user of the VM
notices), revert (container stopped, disk replaced, started again), and the snapshot's size
on the host. The copy reads and writes the host's own disk, so these figures are this
machine's disk speed as much as the code's. Without the lab the table says why it was skipped.
"""

import sys
import time

from bench import common, labworld

TITLE = "vm_snapshots: snapshot create, freeze and revert with 100 MB and 1 GB written"
HEADERS = ["data written", "create s", "frozen ms", "revert s", "snapshot size", "disk"]
LABELS = ["100 MB", "1 GB"]
SIZES_MB = (100, 1024)


def main() -> int:
    lab, reason = labworld.lab_or_reason()
    if not lab:
        common.skipped(TITLE, reason, HEADERS, LABELS)
        return 0
    with common.django_env("vm_snapshots") as database:
        from django.conf import settings

        from lab.images import ensure_alpine_rootfs, start_image_server

        image = ensure_alpine_rootfs()
        settings.PROVISION_POLL_INTERVAL = 0.1
        settings.PROVISION_SSH_WAIT = 20
        settings.VM_DISK_MB_DEFAULT = 3072  # room for 1 GB of data and its snapshot's count
        server, _ = start_image_server(host="0.0.0.0", cache=image.path.rsplit("/", 1)[0])  # noqa: S104
        try:
            with labworld.simulator(lab=True, boot_delay=0.2):
                vm = labworld.running_vm(image.name, server.server_address[1], "snapbench", "snap")
                rows = [measure(vm, size) for size in SIZES_MB]
        finally:
            server.shutdown()
            server.server_close()
    common.table(
        TITLE,
        HEADERS,
        rows,
        [
            f"{database}; {common.machine()}; one lab host (a network namespace on this "
            "machine), the VM's disk an ext4 in a sparse file on this machine's filesystem",
            "create and revert: the job's wall time, run inline (JOBS_SYNC); frozen: from "
            "the container's freeze to its thaw, as the host script measured it",
        ],
    )
    worst = max(rows, key=lambda row: row[2])
    common.summary(
        f"with {worst[0]} written: snapshot in {worst[1]:.2f} s, the VM frozen {worst[2]} ms, "
        f"revert in {worst[3]:.2f} s; with {rows[0][0]}: {rows[0][1]:.2f} s, frozen "
        f"{rows[0][2]} ms, revert {rows[0][3]:.2f} s"
    )
    return 0


def measure(vm, size_mb: int) -> list:
    from core.units import human_bytes
    from vms import lxc, snapshots

    written = lxc.execute(
        vm,
        ["sh", "-c", f"rm -f /data; head -c {size_mb * 2**20} /dev/urandom > /data && sync"],
        600,
    )
    if written.exit_status != 0:
        raise SystemExit(f"writing {size_mb} MB in the VM failed: {written.stderr[-300:]}")
    for snapshot in vm.snapshots.all():
        snapshots.delete(vm.owner, vm, str(snapshot.pk))
    started = time.perf_counter()
    snapshot = snapshots.create(vm.owner, vm, f"data-{size_mb}")
    created = time.perf_counter() - started
    snapshot.refresh_from_db()
    if snapshot.state != "READY":
        raise SystemExit(f"snapshot not taken: {list(vm.log.values_list('message', flat=True))}")
    started = time.perf_counter()
    snapshots.revert(vm.owner, vm, snapshot.name)
    reverted = time.perf_counter() - started
    vm.refresh_from_db()
    if vm.state != "RUNNING":
        raise SystemExit(f"VM {vm.state} after the revert")
    label = f"{size_mb} MB" if size_mb < 1024 else f"{size_mb // 1024} GB"
    return [
        label,
        round(created, 2),
        snapshot.freeze_ms,
        round(reverted, 2),
        human_bytes(snapshot.size_bytes),
        f"{vm.disk_mb} MB",
    ]


if __name__ == "__main__":
    sys.exit(main())
