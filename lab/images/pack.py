"""The rootfs tarball: contents from the staging copy, modes and numeric owners from the image's
inode listing (so setuid/setgid/sticky bits and owners survive, and building needs no root).

Reproducible: entries sorted, mtimes clamped to the filesystem's last write time (symlinks made
by rdump and files changed by the fixup would otherwise carry the build's time), no user or
group names, gzip header without a time stamp. Hard links of the image stay hard links.
Device nodes, FIFOs and sockets are not in it (rdump skips them; LXC makes /dev itself).
"""

import gzip
import os
import stat
import tarfile
from pathlib import Path

from lab.images.extract import Inode

GZIP_LEVEL = 6  # 9 saves ~1% on this content (kernel modules are already compressed)


def write_rootfs_tarball(staging: Path, inodes: dict[str, Inode], dest: Path, epoch: int) -> None:
    seen_inodes: dict[int, str] = {}
    with (
        open(dest, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=GZIP_LEVEL) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for rel in _walk(staging):
            path = staging / rel
            st = os.lstat(path)
            kind = stat.S_IFMT(st.st_mode)
            info = tarfile.TarInfo("." if rel == "." else f"./{rel}")
            inode = inodes.get(rel)
            if inode is not None and stat.S_IFMT(inode.mode) == kind:
                info.mode, info.uid, info.gid = stat.S_IMODE(inode.mode), inode.uid, inode.gid
            else:  # made by the fixup: root's
                info.mode, info.uid, info.gid = stat.S_IMODE(st.st_mode), 0, 0
            info.uname = info.gname = ""
            info.mtime = min(int(st.st_mtime), epoch)
            if kind == stat.S_IFDIR:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == stat.S_IFLNK:
                info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
                tar.addfile(info)
            elif kind == stat.S_IFREG:
                if inode is not None and inode.ino in seen_inodes:
                    info.type, info.linkname = tarfile.LNKTYPE, seen_inodes[inode.ino]
                    tar.addfile(info)
                    continue
                if inode is not None:
                    seen_inodes[inode.ino] = info.name
                info.size = st.st_size
                with _open_readable(path) as handle:
                    tar.addfile(info, handle)


def _walk(root: Path):
    """Relative paths, parents before children, sorted; "." first."""
    yield "."
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = os.path.relpath(directory, root)
        for name in sorted(dirnames + filenames):
            yield name if base == "." else f"{base}/{name}"


def _open_readable(path: Path):
    try:
        return open(path, "rb")
    except PermissionError:  # not root: rdump gave the file its image mode, e.g. 0000 or 0200
        os.chmod(path, stat.S_IMODE(os.lstat(path).st_mode) | stat.S_IRUSR)
        return open(path, "rb")


def make_accessible(root: Path) -> None:
    """Without root, rdump's copies are ours but keep the image's modes: give ourselves rwx on
    every directory so it can be walked, fixed up and removed (the tarball's modes come from the
    inode listing, not from these)."""
    for directory, dirnames, _ in os.walk(root):
        for name in dirnames:
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                os.chmod(path, stat.S_IMODE(os.lstat(path).st_mode) | stat.S_IRWXU)
