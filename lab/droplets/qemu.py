"""QEMU for one vm droplet: its command line, its monitor (QMP) and its copy-on-write disk.

TCG, not KVM: /dev/kvm on this machine kind cannot run a stock Debian kernel. The kernel boots
directly (no boot loader in the image), and the SMBIOS manufacturer "DigitalOcean" makes
cloud-init pick its DigitalOcean datasource, as on a droplet.
"""

import json
import socket
import subprocess
from pathlib import Path

KERNEL_ARGS = "root=/dev/vda rw console=ttyS0 net.ifnames=0 panic=-1"


def command(droplet_id: int, directory: Path, spec: dict, netns: str) -> list[str]:
    """The QEMU command for the guest described by SPEC (its vm.json), run in NETNS, where its
    taps join the droplet's bridges; console, disk and monitor socket live in DIRECTORY."""
    image = Path(spec["image"])
    return [
        "nsenter",
        f"--net=/run/netns/{netns}",
        "qemu-system-x86_64",
        "-name", f"droplet-{droplet_id}",
        "-machine", "pc",
        "-accel", "tcg,tb-size=128",
        "-cpu", "max",
        "-smp", str(spec["vcpus"]),
        "-m", str(spec["memory_mb"]),
        "-nodefaults",
        "-display", "none",
        "-kernel", str(image / "vmlinuz"),
        "-initrd", str(image / "initrd.img"),
        "-append", KERNEL_ARGS,
        "-drive", f"file={directory / 'disk.qcow2'},if=virtio,format=qcow2,cache=unsafe",
        "-netdev", "tap,id=public,ifname=tap0,script=no,downscript=no",
        "-device", f"virtio-net-pci,netdev=public,mac={spec['public_mac']}",
        "-netdev", "tap,id=private,ifname=tap1,script=no,downscript=no",
        "-device", f"virtio-net-pci,netdev=private,mac={spec['private_mac']}",
        "-object", "rng-random,id=rng,filename=/dev/urandom",
        "-device", "virtio-rng-pci,rng=rng",
        "-smbios",
        f"type=1,manufacturer=DigitalOcean,product=Droplet,serial={droplet_id}",
        "-chardev", f"file,id=console,path={directory / 'console.log'},append=on",
        "-serial", "chardev:console",
        "-qmp", f"unix:{directory / 'qmp.sock'},server=on,wait=off",
    ]  # fmt: skip


def qmp(sock_path: Path, command: str, timeout: float = 5.0) -> dict:
    """One QMP command on the guest's monitor socket."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        conn.connect(str(sock_path))
        reader = conn.makefile("r")
        reader.readline()  # the greeting
        for execute in ("qmp_capabilities", command):
            conn.sendall(json.dumps({"execute": execute}).encode() + b"\n")
            while True:
                answer = json.loads(reader.readline())
                if "return" in answer or "error" in answer:
                    break  # events ("event": ...) may come first
        return answer


def overlay_disk(base: Path, disk: Path, size_gb: int | None = None) -> None:
    """A qcow2 disk of the droplet's own on top of the base image's (read-only below it), of
    `size_gb` when given (never smaller than the base)."""
    size = [f"{int(size_gb)}G"] if size_gb else []
    subprocess.run(
        [
            "qemu-img",
            "create",
            "-q",
            "-f",
            "qcow2",
            "-F",
            "qcow2",
            "-b",
            str(base),
            str(disk),
            *size,
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
