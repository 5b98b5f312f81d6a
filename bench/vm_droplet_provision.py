"""A provision of 1 and of 2 vm droplets (lab.droplets: Debian 12 guests under QEMU's TCG with
their own cloud-init) through the portal, split into where its time goes: the cloud steps, the
droplets' boot (create -> active), cloud-init still running when the host set-up starts (its
wait), and the portal's configuration over SSH (host set-up without that wait, EVPN, private
network). EMULATED: a guest here is several times slower than a real droplet; these are the
lab's figures, not DigitalOcean's.

`python -m bench.vm_droplet_provision [--sizes 1,2]` (root, with qemu-system-x86 and debootstrap)
"""

import argparse
import re
import time

from bench import common, labworld

TITLE = "vm_droplet_provision: a provision of N QEMU lab droplets, step by step (emulated)"
HEADERS = [
    "droplets",
    "state",
    "total s",
    "cloud steps s",
    "boot (create -> active) s",
    "cloud-init wait s",
    "configuration s",
]
CLOUD_STEPS = ("ssh_key", "vpc", "droplets", "firewall")
HOST_STEPS = ("configure_hosts", "private_network")
CLOUD_INIT_MS = re.compile(r"TIMES .*\bcloud-init=(\d+)")


def cloud_init_wait(provision) -> float:
    """The longest wait for cloud-init among the hosts' set-up (its TIMES line, ms)."""
    job = provision.jobs.filter(kind="deploy").order_by("-id").first()
    waits = [
        int(m[1])
        for line in job.lines.values_list("message", flat=True)
        if (m := CLOUD_INIT_MS.search(line))
    ]
    return max(waits, default=0) / 1000


def deploy_once(user, provider, n: int) -> list:
    from provisions import services

    started = time.perf_counter()
    provision = services.create_provision(
        user, provider=provider, name=f"vm{n}", host_count=n, image="debian-12-x64"
    )
    total = time.perf_counter() - started  # JOBS_SYNC: the deploy ran inside the call
    provision.refresh_from_db()
    steps = {k: end - start for k, (start, end) in labworld.step_windows(provision).items()}
    waited = cloud_init_wait(provision)
    configuration = sum(steps.get(s, 0.0) for s in HOST_STEPS) - waited
    row = [
        n,
        provision.state,
        total,
        sum(steps.get(s, 0.0) for s in CLOUD_STEPS),
        steps.get("wait_active", 0.0),
        waited,
        configuration,
    ]
    services.delete_provision(user, provision)  # inline too; ends the guests
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.vm_droplet_provision")
    parser.add_argument("--sizes", default="1,2", help="droplet counts, comma-separated")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    problem = common.lab_problem()
    if problem:
        common.skipped(TITLE, problem, HEADERS, ["vm droplets"])
        return 0
    from lab.droplets import image

    image.ensure_base_image()
    with common.django_env("vm_droplet_provision"):
        from django.conf import settings

        settings.PROVISION_POLL_INTERVAL = 1.0
        settings.PROVISION_SSH_WAIT = 900
        settings.PROVISION_BOOT_TIMEOUT = 1200
        user = common.bench_user()
        with labworld.simulator(lab=True, vm_droplets=True, boot_delay=0) as _sim:
            provider = labworld.provider_for(user)
            rows = [deploy_once(user, provider, n) for n in sizes]
    common.table(
        TITLE,
        HEADERS,
        rows,
        [
            "guests: -smp 1 -m 1024 each (size s-1vcpu-2gb scaled to what the lab gives), TCG",
            "boot: the deploy's wait_active step; cloud-init wait: the host set-up's wait for "
            "`cloud-init status --wait` (its TIMES line); configuration: configure_hosts and "
            "private_network without that wait",
        ],
    )
    worst = max(rows, key=lambda r: r[0])
    common.summary(
        f"EMULATED (TCG): {worst[0]} vm droplet(s) provisioned in {worst[2]:.0f} s "
        f"(boot {worst[4]:.0f} s, cloud-init wait {worst[5]:.0f} s, "
        f"configuration {worst[6]:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
