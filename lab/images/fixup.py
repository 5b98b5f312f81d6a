"""Make a VM disk's Alpine root filesystem boot as an LXC system container.

The image was made for a VM: its boot runlevel loads kernel modules, sets the hardware clock and
starts a guest agent, and gettys run on tty1-6. In a container the kernel is the host's, the
network is configured by LXC before init, and the console is LXC's: drop what cannot work,
leave everything else (os-release, OpenRC, busybox init) untouched.
"""

from pathlib import Path

REMOVE_SERVICES = {
    "boot": ["hwclock", "modules", "quicksand-guest-agent"],
    "sysinit": ["devfs", "dmesg", "setup-dns"],
}


def fix_for_lxc(rootfs: Path) -> None:
    for runlevel, services in REMOVE_SERVICES.items():
        for service in services:
            link = rootfs / "etc" / "runlevels" / runlevel / service
            if link.is_symlink() or link.exists():
                link.unlink()
    # LXC sets eth0's address and route before init; ifup must not try DHCP over it.
    (rootfs / "etc" / "network").mkdir(parents=True, exist_ok=True)
    (rootfs / "etc" / "network" / "interfaces").write_text("auto lo\niface lo inet loopback\n")
    inittab = rootfs / "etc" / "inittab"
    lines = []
    for line in inittab.read_text().splitlines():
        if line.startswith("tty1::respawn:"):
            line = "console::respawn:/sbin/getty 38400 console"
        elif line.startswith(("tty2::", "tty3::", "tty4::", "tty5::", "tty6::")):
            line = "#" + line
        lines.append(line)
    inittab.write_text("\n".join(lines) + "\n")
