"""Live resize in the edge-host lab (root): one lab host with a RUNNING Alpine VM, then
`vms.resize.resize` called again and again, alternating between two sizes (CPU 1 <-> 2,
memory 256 <-> 384 MiB, CPU quota none <-> 1.5), so that every call changes every limit.

Figure: resize latency, from the service call to its return with the host's limits applied
(bounds, quota and host-room checks under the row locks, vm-resize.sh over the warm SSH
connection: lxc-cgroup reads and writes, the config file rewritten, the values saved), median
and max over 20 resizes, one at a time; the first call after the deploy is counted, its SSH
connection already warm from the deploy in the same process. Checked after the run: the
container's init PID is the one it had before (no restart). Target: <= 0.5 s median.
Without the lab the table says why it was skipped.
"""

import shlex
import sys
import time
from decimal import Decimal

from bench import common, labworld

TITLE = "vm_resize: live resize latency in the lab"
PROVISION = "rsbench"
RESIZES = 20
TARGET_MEDIAN = 0.5
SIZES = [
    {"cpu": Decimal("2"), "memory_mb": 384, "cpu_quota": Decimal("1.5")},
    {"cpu": Decimal("1"), "memory_mb": 256, "cpu_quota": None},
]
HEADERS = ["measurement", "resizes", "median ms", "p95 ms", "max ms"]
LABELS = [f"resize of a RUNNING VM ({RESIZES}, one at a time)"]


def main() -> int:
    lab, reason = labworld.lab_or_reason()
    if not lab:
        common.skipped(TITLE, reason, HEADERS, LABELS)
        return 0
    with common.django_env("vm_resize") as database:
        from django.conf import settings

        from lab.images import ensure_alpine_rootfs, start_image_server

        image = ensure_alpine_rootfs()
        settings.PROVISION_POLL_INTERVAL = 0.1
        settings.PROVISION_SSH_WAIT = 20
        server, _ = start_image_server(host="0.0.0.0", cache=image.path.rsplit("/", 1)[0])  # noqa: S104
        try:
            with labworld.simulator(lab=True, boot_delay=0.2):
                vm = labworld.running_vm(image.name, server.server_address[1], PROVISION, "resize")
                user = vm.owner
                pid = init_pid(vm)
                samples = timed_resizes(user, vm)
                same_init = init_pid(vm) == pid
        finally:
            server.shutdown()
            server.server_close()
    return report(samples, same_init, database)


def init_pid(vm) -> str:
    from vms import lxc

    command = f'lxc-info -P "$ONE_EDGE_BASE/lxc" -n {shlex.quote(vm.container_name)} -pH'
    with lxc.warm_session(vm.host, wait=5) as session:
        return session.run(command).stdout.strip()


def timed_resizes(user, vm) -> list[float]:
    from vms import resize

    samples = []
    for i in range(RESIZES):
        started = time.perf_counter()
        vm = resize.resize(user, vm, **SIZES[i % 2])
        samples.append(time.perf_counter() - started)
    return samples


def report(samples: list[float], same_init: bool, database: str) -> int:
    row = [LABELS[0], len(samples)]
    row += [f"{1000 * f(samples):.1f}" for f in (common.median, common.p95, max)]
    common.table(
        TITLE,
        HEADERS,
        [row],
        [
            f"{database}; {common.machine()}; 1 lab host (a network namespace with sshd on this "
            "machine, cgroup v1 as this machine has it), Alpine container",
            "each resize: checks under the owner's, the host's and the VM's row locks, "
            "vm-resize.sh over the warm SSH connection (memory, swap, CPU weight and quota "
            "written with lxc-cgroup, the config file rewritten), the new values saved",
            f"the container's init PID after the run is the one before: {same_init}",
        ],
    )
    median = common.median(samples)
    ok = median <= TARGET_MEDIAN and same_init
    common.summary(
        f"{common.verdict(ok)}: resize applied in {1000 * median:.0f} ms median, "
        f"{1000 * max(samples):.0f} ms max over {len(samples)} (target <= "
        f"{1000 * TARGET_MEDIAN:.0f} ms median), no restart: {same_init}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
