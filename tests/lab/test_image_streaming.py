"""A host's first deploy of an image unpacks it while it downloads (rootfs.sh's
one_prepare_streamed): the tree is used only once the whole file's sha256 matches, a mismatch
or a broken transfer leaves nothing behind, and the caller is told which it was (4: mismatch,
never fall back; other: download and unpack the usual way). Runs the host function for real:
root, user namespaces (lxc-usernsexec) and a local HTTP server."""

import hashlib
import io
import subprocess
import tarfile

import pytest

from tests.lab.conftest import require_lab
from tests.local_http import serve
from vms.lxc import SCRIPTS

pytestmark = pytest.mark.lab
ROOT_ID = 600100001


def image() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in (("./etc/hostname", b"alpine\n"), ("./etc/os-release", b"ID=x\n")):
            info = tarfile.TarInfo(name)
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text))
    return buffer.getvalue()


def prepare(base, url: str, sha: str) -> subprocess.CompletedProcess:
    script = f"""
BASE={base}
source {SCRIPTS.parent.parent / "provisions/hostconfig/isolation.sh"}
source {SCRIPTS / "rootfs.sh"}
curl -fsS {url} | one_prepare_streamed {base}/keep {sha} {ROOT_ID} 65536 "$(one_tar_option {url})"
echo "STATUS ${{PIPESTATUS[*]}}"
"""
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)


def trees(base) -> list[str]:
    prepared = base / "images" / "rootfs"
    return sorted(p.name for p in prepared.iterdir() if not p.name.endswith(".lock"))


@pytest.fixture
def mirror():
    require_lab()
    body = image()
    routes = {"/a.tar.gz": (200, {}, body), "/cut.tar.gz": (200, {}, body[: len(body) // 2])}
    with serve(routes) as server:
        yield server, body


def test_the_tree_is_prepared_while_downloading_and_kept_with_the_file(tmp_path, mirror):
    server, body = mirror
    sha = hashlib.sha256(body).hexdigest()
    run = prepare(tmp_path, server.url("/a.tar.gz"), sha)
    assert "STATUS 0 0" in run.stdout, run.stderr
    assert "while downloading" in run.stdout
    assert (tmp_path / "keep").read_bytes() == body
    assert trees(tmp_path) == [f"{sha}-{ROOT_ID}"]
    hostname = tmp_path / "images" / "rootfs" / f"{sha}-{ROOT_ID}" / "etc" / "hostname"
    assert hostname.read_bytes() == b"alpine\n"
    assert hostname.stat().st_uid == ROOT_ID  # unpacked as the mapped root

    # Prepared already (another deploy, or a retry): the file is kept and checked, no unpack.
    again = prepare(tmp_path, server.url("/a.tar.gz"), sha)
    assert "STATUS 0 0" in again.stdout and "while downloading" not in again.stdout


def test_a_checksum_mismatch_leaves_no_tree(tmp_path, mirror):
    server, _ = mirror
    run = prepare(tmp_path, server.url("/a.tar.gz"), "0" * 64)
    assert "STATUS 0 4" in run.stdout, run.stderr
    assert trees(tmp_path) == []


def test_a_broken_transfer_leaves_no_tree_and_asks_for_the_usual_way(tmp_path, mirror):
    server, body = mirror
    run = prepare(tmp_path, server.url("/cut.tar.gz"), hashlib.sha256(body).hexdigest())
    status = run.stdout.split("STATUS ")[1].split()
    assert status[1] not in ("0", "4"), run.stdout + run.stderr
    assert trees(tmp_path) == []
