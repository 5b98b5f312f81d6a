"""A host's first VM of an image, with the image unpacked while it downloads (what vm-deploy.sh
does) against unpacked after the download (the same script with that path turned off), at the
link rates a droplet may see from a marketplace: the lab bridge as it is (this machine), then
shaped by a token bucket (tc tbf) on the lab bridge to 500 and 100 Mbit/s.

Why: on the lab bridge the download takes some 40 ms, so unpacking while it downloads has
nothing to overlap; across a WAN the download is most of a first deploy. Each figure is the
median of REPS first VMs on one host (the host made to forget the image in between, as in
vm_deploy), the two ways alternating. The image and rootfs columns are vm-deploy.sh's own
step times (TIMES line): streamed, the unpacking happens inside the image step. Without the
lab (root) the table says why it was skipped.
"""

import subprocess
import sys
from contextlib import contextmanager

from bench import common, labworld, vm_deploy

TITLE = "image_streaming: first VM on a host, image unpacked while downloading or after"
RATES = ("bridge", "500mbit", "100mbit")  # "bridge": unshaped
REPS = 3
HEADERS = ["link", "way", "VMs", "median s", "max s", "image ms", "rootfs ms"]
WAYS = ("while downloading", "after the download")
# The condition in rootfs.sh (one_image_fetch) that picks the streamed way.
STREAM_CONDITION = 'if [ -n "$OPTION" ] && [ "${PRIVILEGED:-0}" != 1 ]'


@contextmanager
def shaped(rate: str):
    """Traffic from this machine (the lab's image server) to the lab hosts at `rate`."""
    from lab.hosts.manager import BRIDGE

    if rate != "bridge":
        subprocess.run(
            ["tc", "qdisc", "replace", "dev", BRIDGE, "root", "tbf", "rate", rate]
            + ["burst", "256kb", "latency", "400ms"],
            check=True,
        )
    try:
        yield
    finally:
        subprocess.run(["tc", "qdisc", "del", "dev", BRIDGE, "root"], capture_output=True)


@contextmanager
def streaming(enabled: bool):
    """vm-deploy.sh as shipped, or with its streamed image path turned off."""
    from vms import lxc

    original = lxc.script_text

    def text(name: str) -> str:
        script = original(name)
        if name == "vm-deploy.sh":
            if STREAM_CONDITION not in script:
                raise vm_deploy.Failed("rootfs.sh no longer has the streamed path this toggles")
            if not enabled:
                script = script.replace(STREAM_CONDITION, "if false")
        return script

    lxc.script_text = text
    try:
        yield
    finally:
        lxc.script_text = original


def main() -> int:
    lab, reason = labworld.lab_or_reason()
    rows_skipped = [[rate, way] for rate in RATES for way in WAYS]
    if not lab:
        common.table(TITLE, HEADERS, [r + ["skipped"] * 5 for r in rows_skipped], [reason])
        common.summary(f"SKIPPED: {reason}")
        return 0
    with common.django_env("image_streaming"):
        from django.conf import settings

        from lab.images import ensure_alpine_rootfs, start_image_server

        image = ensure_alpine_rootfs()
        settings.PROVISION_POLL_INTERVAL = 0.1
        settings.PROVISION_SSH_WAIT = 20
        settings.IMAGE_STAGING = False  # every measured VM is a host's first of the image
        server, _ = start_image_server(host="0.0.0.0", cache=image.path.rsplit("/", 1)[0])  # noqa: S104
        try:
            with labworld.simulator(lab=True, boot_delay=0.2):
                runs = measure(image.name, server.server_address[1])
        except vm_deploy.Failed as exc:
            common.table(TITLE, HEADERS, [r + ["failed"] * 5 for r in rows_skipped], [str(exc)])
            common.summary(f"FAILED: {exc}")
            return 1
        finally:
            server.shutdown()
            server.server_close()
    return report(runs)


def measure(app_name: str, image_port: int) -> dict[tuple[str, str], list[dict]]:
    from marketplace import sync
    from marketplace.models import Marketplace, MarketplaceApp
    from marketplace.services import export_app
    from provisions import services as provisions

    user = common.bench_user()
    market = Marketplace.objects.get(name="Edge Lab")
    market.index_url = f"http://{vm_deploy.LAB_GATEWAY}:{image_port}/index.json"
    market.save(update_fields=["index_url"])
    provision = provisions.create_provision(
        user, provider=labworld.provider_for(user), name=vm_deploy.PROVISION, host_count=1
    )
    provision.refresh_from_db()
    if provision.state != "RUNNING":
        raise vm_deploy.Failed(f"provision ended {provision.state}: {provision.error[:300]}")
    try:
        sync.sync(market)
    except sync.SyncError as exc:
        raise vm_deploy.Failed(f"lab marketplace sync: {exc}") from None
    app = MarketplaceApp.objects.get(marketplace=market, name=app_name)
    _, template = export_app(user, app.pk, "alpine", f"{vm_deploy.PROVISION}-image")
    runs: dict[tuple[str, str], list[dict]] = {}
    last = None
    for rate in RATES:
        with shaped(rate):
            for rep in range(REPS):
                for way, enabled in zip(WAYS, (True, False), strict=True):
                    if last is not None:
                        vm_deploy.forget_image(user, last)
                    with streaming(enabled):
                        last = vm_deploy.timed_instantiate(
                            user, template, f"first-{rate}-{rep}-{int(enabled)}"
                        )
                    runs.setdefault((rate, way), []).append(last)
    provisions.delete_provision(user, provision, cleanup=True)
    return runs


def report(runs: dict[tuple[str, str], list[dict]]) -> int:
    rows, medians, failed = [], {}, 0
    for rate in RATES:
        for way in WAYS:
            done = [r for r in runs[(rate, way)] if r["state"] == "RUNNING" and not r["cached"]]
            failed += len(runs[(rate, way)]) - len(done)
            seconds = [r["seconds"] for r in done]
            steps = [r["steps"] for r in done if r.get("steps")]
            medians[(rate, way)] = common.median(seconds) if seconds else None
            rows.append(
                [
                    rate,
                    way,
                    f"{len(done)}/{len(runs[(rate, way)])}",
                    f"{medians[(rate, way)]:.2f}" if seconds else "-",
                    f"{max(seconds):.2f}" if seconds else "-",
                    common.median([s.get("image", 0) for s in steps]) if steps else "-",
                    common.median([s.get("rootfs", 0) for s in steps]) if steps else "-",
                ]
            )
    notes = [
        "SQLite (throwaway file); " + common.machine() + "; 1 lab host, Alpine rootfs "
        "from the lab marketplace on this machine",
        f"{REPS} first VMs per link and way, the ways alternating; a VM that found the image "
        "cached or did not reach RUNNING is left out (the VMs column counts the ones kept)",
        "link: 'bridge' is the lab bridge unshaped; the others a tc tbf qdisc on it (no added "
        "delay: this kernel has no netem)",
    ]
    common.table(TITLE, HEADERS, rows, notes)
    parts = []
    for rate in RATES:
        streamed, after = (medians[(rate, way)] for way in WAYS)
        if streamed is not None and after is not None:
            parts.append(f"{rate}: {streamed:.2f} s vs {after:.2f} s")
    common.summary(
        "first VM with the image unpacked while downloading vs after: "
        + "; ".join(parts)
        + (f"; {failed} VMs left out" if failed else "")
    )
    return 1 if failed == len(RATES) * len(WAYS) * REPS else 0


if __name__ == "__main__":
    sys.exit(main())
