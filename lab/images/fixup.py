"""The "LXC fixup": make the quicksand VM disk's Alpine boot as an LXC system container with its
own init (busybox /sbin/init running OpenRC), done once at build time on the extracted files.

Kept minimal; each step says why, and `fix_for_lxc` returns what it changed (metadata.json keeps
that list). Nothing else is touched: /etc/os-release, OpenRC, busybox, apk's database, the users.

- rc.conf: `rc_sys="lxc"` (the image already has it), so OpenRC skips the services that declare
  `keyword -lxc` (hwclock, modules, dmesg, hostname, mount-ro, ...).
- runlevels: drop the VM's own services: the quicksand guest agent (talks over a virtio-serial
  port that a container does not have), setup-dns (copies QEMU user networking's resolver
  10.0.2.3 into resolv.conf), devfs (mounts /dev, which LXC provides), and, to say in the image
  what the keywords already do, hwclock, modules, dmesg.
- /etc/network/interfaces: the VM's is a static 10.0.2.15 via 10.0.2.2 (QEMU user networking);
  in a container LXC configures eth0 before init (the portal sets lxc.net.0.ipv4.address and
  .gateway), so only the loopback is left to ifupdown.
- /etc/inittab: gettys on tty1-tty6 become one getty on /dev/console (what the lxc-alpine
  template does): LXC always provides the console, while ttyN exist only up to lxc.tty.max and
  busybox init would respawn a getty on a missing tty forever. Login is not needed: the portal
  uses lxc-attach (root has no password in this image).
- /.dockerenv: a leftover of the image's Docker build that makes tools think they run in Docker.
- the kernel: /boot (kernel, initramfs, System.map) and /lib/modules, 60 of the disk's 83 MB.
  A container runs on its host's kernel and cannot load modules, so LXC images ship neither
  (linuxcontainers.org's Alpine is a few MB); keeping them made every first VM on a host
  download and unpack three times what it runs. linux-virt also leaves /etc/apk/world, so apk
  does not reinstall a kernel on the next upgrade (its next run drops the package's record).
"""

import shutil
from pathlib import Path

KERNEL_PACKAGES = {"linux-virt", "linux-lts", "linux-firmware-none"}
REMOVE_SERVICES = {
    "sysinit": ["devfs", "dmesg", "setup-dns"],
    "boot": ["hwclock", "modules", "quicksand-guest-agent"],
}
CONSOLE_GETTY = "console::respawn:/sbin/getty 38400 console"
INTERFACES = """\
# Written by lab/images (LXC fixup). eth0 is configured by LXC before init
# (lxc.net.0.ipv4.address / lxc.net.0.ipv4.gateway in the container's config).
auto lo
iface lo inet loopback
"""


def fix_for_lxc(rootfs: Path) -> list[str]:
    changes = []
    changes += _rc_sys(rootfs / "etc" / "rc.conf")
    for runlevel, services in REMOVE_SERVICES.items():
        for service in services:
            link = rootfs / "etc" / "runlevels" / runlevel / service
            if link.is_symlink() or link.exists():
                link.unlink()
                changes.append(f"runlevel {runlevel}: removed {service}")
    interfaces = rootfs / "etc" / "network" / "interfaces"
    if not interfaces.exists() or interfaces.read_text() != INTERFACES:
        interfaces.parent.mkdir(parents=True, exist_ok=True)
        interfaces.write_text(INTERFACES)
        changes.append("/etc/network/interfaces: loopback only, eth0 left to LXC")
    changes += _inittab(rootfs / "etc" / "inittab")
    dockerenv = rootfs / ".dockerenv"
    if dockerenv.is_file():
        dockerenv.unlink()
        changes.append("removed /.dockerenv")
    changes += _strip_kernel(rootfs)
    return changes


def _strip_kernel(rootfs: Path) -> list[str]:
    """Empty /boot and /lib/modules (the directories stay, as in LXC images) and take the
    kernel packages out of apk's world."""
    changes = []
    for directory in (rootfs / "boot", rootfs / "lib" / "modules"):
        if not directory.is_dir() or directory.is_symlink():
            continue
        entries = list(directory.iterdir())
        if not entries:
            continue
        removed = 0
        for entry in entries:
            if entry.is_dir() and not entry.is_symlink():
                files = (f for f in entry.rglob("*") if f.is_file() and not f.is_symlink())
                removed += sum(f.lstat().st_size for f in files)
                shutil.rmtree(entry)
            else:
                removed += 0 if entry.is_symlink() else entry.lstat().st_size
                entry.unlink()
        name = "/" + directory.relative_to(rootfs).as_posix()
        changes.append(f"{name}: emptied (the kernel's, {removed / 1e6:.1f} MB)")
    world = rootfs / "etc" / "apk" / "world"
    if world.is_file():
        lines = world.read_text().splitlines()
        kept = [line for line in lines if line.strip() not in KERNEL_PACKAGES]
        if kept != lines:
            world.write_text("".join(line + "\n" for line in kept))
            dropped = sorted(set(lines) - set(kept))
            changes.append(f"/etc/apk/world: dropped {', '.join(dropped)}")
    return changes


def _rc_sys(rc_conf: Path) -> list[str]:
    if not rc_conf.exists():
        return []
    lines = rc_conf.read_text().splitlines()
    wanted = 'rc_sys="lxc"'
    if wanted in lines:
        return []
    kept = [line for line in lines if not line.lstrip("#").startswith("rc_sys=")]
    rc_conf.write_text("\n".join([*kept, wanted]) + "\n")
    return ['/etc/rc.conf: rc_sys="lxc"']


def _inittab(inittab: Path) -> list[str]:
    if not inittab.exists():
        return []
    lines, ttys = [], []
    for line in inittab.read_text().splitlines():
        if line.startswith("tty") and ":respawn:" in line and "getty" in line:
            ttys.append(line.split(":", 1)[0])
            line = "#" + line
        lines.append(line)
    added = CONSOLE_GETTY not in lines
    if added:
        lines += ["", "# LXC: one getty on the container's console (lab/images LXC fixup)"]
        lines.append(CONSOLE_GETTY)
    if not ttys and not added:
        return []
    inittab.write_text("\n".join(lines) + "\n")
    done = [f"commented out the gettys on {', '.join(ttys)}"] if ttys else []
    return ["/etc/inittab: " + "; ".join(done + (["a getty on /dev/console"] if added else []))]
