"""The Debian 12 base image vm droplets boot from: debootstrap from the Debian packages, then
the packages a droplet has once the portal's user data has run (so cloud-init's install finds
them), a generated en_US.UTF-8 locale, no SSH host keys (cloud-init writes the pinned ones).

Two variants: `full` (the default) carries what the user data installs, so a boot spends no
time in dpkg; `bare` is a fresh droplet as DigitalOcean hands it over, for the install path
(cloud-init installing the packages through the lab's package cache, lab.droplets.aptcache).

Cached under `<lab cache>/droplets/debian-12-<recipe hash>/` (`debian-12-bare-<hash>` for the
bare one; base.qcow2, vmlinuz, initrd.img, recipe.json): a change to the recipe (packages,
mirror, the chroot script) is a new directory, built on first use. Built as root in a private
mount namespace, so nothing stays mounted.
"""

import fcntl
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lab.images import cache_dir

log = logging.getLogger(__name__)

SUITE = "bookworm"
MIRROR = os.environ.get("EDGE_LAB_DEBIAN_MIRROR", "http://deb.debian.org/debian")
DISK_SIZE = "4G"
ROOT_LABEL = "edgeroot"

# What a DigitalOcean Debian 12 droplet boots with, kept small: no recommends here.
BASE_PACKAGES = [
    "linux-image-cloud-amd64",
    "systemd",
    "systemd-sysv",
    "udev",
    "dbus",
    "kmod",
    "ifupdown",
    "iproute2",
    "iputils-ping",
    "openssh-server",
    "cloud-init",
    "locales",
    "apparmor",
    "sudo",
    "ca-certificates",
    "procps",
    "netbase",
    "less",
]
# What the portal's user data installs (provisions.cloud_init.BOOT_PACKAGES; a test keeps the
# two the same), installed as cloud-init does: with recommends.
USER_DATA_PACKAGES = [
    "lxc",
    "iptables",
    "iproute2",
    "frr",
    "uidmap",
    "pigz",
    "openssl",
    "curl",
    "restic",
]
# The packages each variant carries beyond the base ones.
VARIANTS = {"full": USER_DATA_PACKAGES, "bare": []}

CHROOT_SCRIPT = """\
set -eu
export DEBIAN_FRONTEND=noninteractive LC_ALL=C
printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d
chmod 755 /usr/sbin/policy-rc.d
apt-get update -q
apt-get install -y -q --no-install-recommends $BASE_PACKAGES
apt-get install -y -q $USER_DATA_PACKAGES
echo 'en_US.UTF-8 UTF-8' > /etc/locale.gen
locale-gen
update-locale LANG=en_US.UTF-8
printf 'LABEL=%s / ext4 errors=remount-ro 0 1\\n' "$ROOT_LABEL" > /etc/fstab
printf 'auto lo\\niface lo inet loopback\\n\\nsource /etc/network/interfaces.d/*\\n' \
    > /etc/network/interfaces
mkdir -p /etc/network/interfaces.d
echo localhost > /etc/hostname
rm -f /etc/ssh/ssh_host_*
rm -f /usr/sbin/policy-rc.d
apt-get clean
# The builder's resolver means nothing to a droplet, and one that drops queries makes every
# lookup (cloud-init's apt-get update) wait for its timeouts: none, so lookups fail at once.
: > /etc/resolv.conf
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
"""


class ImageError(RuntimeError):
    pass


@dataclass(frozen=True)
class BaseImage:
    directory: Path
    recipe_hash: str

    @property
    def disk(self) -> Path:
        return self.directory / "base.qcow2"

    @property
    def kernel(self) -> Path:
        return self.directory / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.directory / "initrd.img"

    def info(self) -> dict:
        return json.loads((self.directory / "recipe.json").read_text())


def recipe(variant: str = "full") -> dict:
    return {
        "suite": SUITE,
        "mirror": MIRROR,
        "disk_size": DISK_SIZE,
        "root_label": ROOT_LABEL,
        "base_packages": BASE_PACKAGES,
        "user_data_packages": VARIANTS[variant],
        "chroot_script": CHROOT_SCRIPT,
    }


def recipe_hash(spec: dict | None = None) -> str:
    text = json.dumps(spec or recipe(), sort_keys=True).encode()
    return hashlib.sha256(text).hexdigest()[:16]


def _prefix(variant: str) -> str:
    return "debian-12-" if variant == "full" else f"debian-12-{variant}-"


def image_dir(cache: Path | None = None, variant: str = "full") -> Path:
    name = _prefix(variant) + recipe_hash(recipe(variant))
    return Path(cache or cache_dir()) / "droplets" / name


def cached_image(cache: Path | None = None, variant: str = "full") -> BaseImage | None:
    directory = image_dir(cache, variant)
    image = BaseImage(directory, recipe_hash(recipe(variant)))
    if (
        all(p.exists() for p in (image.disk, image.kernel, image.initrd))
        and (directory / "recipe.json").exists()
    ):
        return image
    return None


def ensure_base_image(cache: Path | None = None, variant: str = "full") -> BaseImage:
    """The cached image for the current recipe, built now if missing (minutes; root)."""
    if variant not in VARIANTS:
        raise ImageError(f"no image variant {variant!r} (known: {', '.join(VARIANTS)})")
    directory = image_dir(cache, variant)
    directory.parent.mkdir(parents=True, exist_ok=True)
    with _locked(directory.parent / ".lock"):
        image = cached_image(cache, variant)
        if image is not None:
            return image
        if os.geteuid() != 0:
            raise ImageError("building the vm droplet image needs root (debootstrap, chroot)")
        return _build(directory, variant)


@contextmanager
def _locked(path: Path):
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(argv, **kwargs):
    result = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout)[-2000:]
        raise ImageError(f"{argv[0]} failed ({result.returncode}): {tail}")
    return result


def _build(directory: Path, variant: str) -> BaseImage:
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="build-", dir=directory.parent))
    try:
        root = work / "root"
        log.info("vm image: debootstrap %s from %s", SUITE, MIRROR)
        _run(["debootstrap", "--variant=minbase", SUITE, str(root), MIRROR], timeout=1800)
        env = {
            "BASE_PACKAGES": " ".join(BASE_PACKAGES),
            "USER_DATA_PACKAGES": " ".join(VARIANTS[variant]),
            "ROOT_LABEL": ROOT_LABEL,
        }
        # Mounts for the chroot live in a private mount namespace: gone when it ends, even if
        # the build is killed.
        setup = (
            'mount -t proc proc "$R/proc" && mount -t sysfs sysfs "$R/sys" && '
            'mount --rbind /dev "$R/dev" && exec chroot "$R" /bin/sh -c "$SCRIPT"'
        )
        log.info("vm image: packages and configuration in the chroot")
        _run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", setup],
            env={
                "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                "R": str(root),
                "SCRIPT": CHROOT_SCRIPT,
                **env,
            },
            timeout=3600,
        )
        staged = work / "image"
        staged.mkdir()
        kernels = sorted((root / "boot").glob("vmlinuz-*"))
        initrds = sorted((root / "boot").glob("initrd.img-*"))
        if not kernels or not initrds:
            raise ImageError("no kernel or initrd in the image's /boot")
        shutil.copy(kernels[-1], staged / "vmlinuz")
        shutil.copy(initrds[-1], staged / "initrd.img")
        raw = work / "root.raw"
        log.info("vm image: ext4 and qcow2")
        _run(["mkfs.ext4", "-q", "-L", ROOT_LABEL, "-d", str(root), str(raw), DISK_SIZE])
        _run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(staged / "base.qcow2")])
        seconds = time.monotonic() - started
        info = {
            "recipe_hash": recipe_hash(recipe(variant)),
            "recipe": recipe(variant),
            "kernel": kernels[-1].name,
            "build_seconds": round(seconds, 1),
            "disk_bytes": (staged / "base.qcow2").stat().st_size,
        }
        (staged / "recipe.json").write_text(json.dumps(info, indent=2) + "\n")
        shutil.rmtree(directory, ignore_errors=True)
        staged.rename(directory)
        # Images of older recipes (800 MiB each) go: a droplet booted from one runs on (QEMU
        # holds its files open) until it is powered off; new droplets boot from this one.
        prefix = _prefix(variant)
        for old in directory.parent.glob(prefix + "*"):
            if old != directory and old.name[len(prefix) :].isalnum():
                log.info("vm image: %s removed (an older recipe)", old.name)
                shutil.rmtree(old, ignore_errors=True)
        log.info(
            "vm image: built in %.0f s, %.0f MiB",
            seconds,
            info["disk_bytes"] / 2**20,
        )
        return BaseImage(directory, recipe_hash(recipe(variant)))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m lab.droplets image")
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="full")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    if args.force:
        shutil.rmtree(image_dir(variant=args.variant), ignore_errors=True)
    image = ensure_base_image(variant=args.variant)
    info = image.info()
    print(
        f"{image.directory}: kernel {info['kernel']}, built in {info['build_seconds']} s, "
        f"{info['disk_bytes'] / 2**20:.0f} MiB qcow2"
    )
    return 0
