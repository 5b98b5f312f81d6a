"""`python -m lab up [--droplets vm]|down|status`: the simulator (with lab hosts), the image
server and the object store (S3, for backups), in the background, for running the portal
against (see README, "Running against the lab"). `--droplets vm` (or LAB_DROPLETS=vm):
droplets made from debian-12-x64 boot as QEMU guests (lab.droplets), the rest stay namespace
hosts."""

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = Path(os.environ.get("EDGE_LAB_RUN", ROOT / "var" / "lab"))
SERVICES = {
    "docsim": ["-m", "lab.docsim", "--lab", "--port", "8765"],
    "images": ["-m", "lab.images", "serve", "--host", "0.0.0.0", "--port", "8766"],
    "objects": ["-m", "lab.objectstore", "8767"],
}


def _pid(name):
    path = RUN / f"{name}.pid"
    if not path.exists():
        return None
    pid = int(path.read_text())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        path.unlink()
        return None
    return pid


def up(droplets: str = "namespace") -> int:
    if os.geteuid() != 0:
        print("lab: lab hosts need root (network namespaces); run as root", file=sys.stderr)
        return 1
    RUN.mkdir(parents=True, exist_ok=True)
    from lab.images import ensure_alpine_rootfs

    info = ensure_alpine_rootfs()
    print(f"lab: image {info.name} ({info.version}) sha256 {info.sha256[:12]}…")
    services = dict(SERVICES)
    if droplets == "vm":
        from lab.droplets.image import ensure_base_image

        print("lab: vm droplets: the Debian 12 base image (built once, a few minutes)…")
        base = ensure_base_image()
        print(f"lab: vm droplet image {base.directory}")
        services["docsim"] = [*services["docsim"], "--vm-droplets"]
    for name, argv in services.items():
        if _pid(name):
            print(f"lab: {name} already running (pid {_pid(name)})")
            continue
        log = open(RUN / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
        process = subprocess.Popen(
            [sys.executable, *argv], cwd=ROOT, stdout=log, stderr=log, start_new_session=True
        )
        (RUN / f"{name}.pid").write_text(str(process.pid))
        print(f"lab: {name} started (pid {process.pid}, log {RUN / (name + '.log')})")
    time.sleep(1)
    print(
        "lab: DigitalOcean simulator on http://127.0.0.1:8765 (token: lab-token)\n"
        "     images on http://198.18.0.1:8766/index.json once a lab host exists\n"
        "     object storage (S3) on http://198.18.0.1:8767: its key and bucket are the first\n"
        f"     line of {RUN / 'objects.log'} (onebackupstore create)\n"
        "     run the portal with DIGITALOCEAN_API_URL=http://127.0.0.1:8765/v2/ "
        "OUTBOUND_ALLOWED_NETWORKS=198.18.0.1/32"
    )
    return 0


def down() -> int:
    for name in SERVICES:
        pid = _pid(name)
        if pid:
            os.killpg(pid, signal.SIGTERM)
            print(f"lab: {name} stopped")
        (RUN / f"{name}.pid").unlink(missing_ok=True)
    if os.geteuid() == 0:
        from lab.droplets.vm import VmDroplets
        from lab.hosts import LabHosts

        VmDroplets().destroy_all()
        LabHosts().destroy_all()
        print("lab: lab hosts removed")
    return 0


def status() -> int:
    for name in SERVICES:
        pid = _pid(name)
        print(f"{name}: {'running, pid ' + str(pid) if pid else 'stopped'}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab")
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument(
        "--droplets",
        choices=["namespace", "vm"],
        default=os.environ.get("LAB_DROPLETS") or "namespace",
        help="what a debian-12-x64 droplet is (up): a namespace host, or a QEMU guest",
    )
    args = parser.parse_args(argv)
    if args.command == "up":
        return up(args.droplets)
    return {"down": down, "status": status}[args.command]()


if __name__ == "__main__":
    sys.exit(main())
