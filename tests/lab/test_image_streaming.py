"""A host's first deploy of an image unpacks it while it downloads (rootfs.sh's
one_prepare_streamed): the tree is used only once the whole file's sha256 matches, a mismatch
or a broken transfer leaves nothing behind, and the caller is told which it was (4: mismatch,
never fall back; other: download and unpack the usual way). Runs the host function for real:
root, user namespaces (lxc-usernsexec) and a local HTTP server."""

import fcntl
import hashlib
import io
import os
import signal
import socket
import subprocess
import tarfile
import threading
import time
from contextlib import contextmanager

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


def fetch(base, url: str, sha: str, new_session=False) -> subprocess.Popen:
    """rootfs.sh's one_image_fetch in a host script of its own, as a deploy or the portal's
    staging (image-prepare.sh) runs it."""
    script = f"""
set -euo pipefail
BASE={base}
IMAGES={base}/images
mkdir -p "$IMAGES"
source {SCRIPTS.parent.parent / "provisions/hostconfig/isolation.sh"}
source {SCRIPTS / "rootfs.sh"}
IMAGE_URL={url} IMAGE_RESOLVE= IMAGE_SHA256={sha} one_image_fetch
echo "CACHED $CACHED"
"""
    return subprocess.Popen(
        ["bash", "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=new_session,  # its own process group, for killpg
    )


def test_fetches_of_one_image_take_turns_and_download_it_once(tmp_path, mirror):
    """A deploy that starts while another deploy or the staging fetches the image waits for
    that transfer instead of making its own: held here by taking the image's lock first, so
    both fetches are waiting when it is released."""
    server, body = mirror
    sha = hashlib.sha256(body).hexdigest()
    (tmp_path / "images").mkdir()
    with open(tmp_path / "images" / f".{sha}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        first, second = (fetch(tmp_path, server.url("/a.tar.gz"), sha) for _ in range(2))
        time.sleep(0.3)  # both start and wait for the lock: nothing may be fetched meanwhile
        assert server.seen == []
    outputs = [p.communicate(timeout=60) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outputs
    stdout = "".join(out for out, _ in outputs)
    assert server.seen == ["/a.tar.gz"]  # one download for both
    assert stdout.count("IMAGE downloaded and verified") == 1
    assert stdout.count("IMAGE cached") == 1  # the other found it, waiting or not
    assert (tmp_path / "images" / f"{sha}.tar").read_bytes() == body
    assert trees(tmp_path) == [f"{sha}-{ROOT_ID}"]


def test_a_fetch_refuses_a_checksum_that_is_not_one(tmp_path, mirror):
    server, _ = mirror
    run = fetch(tmp_path, server.url("/a.tar.gz"), "../../etc/passwd")
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 2 and "IMAGE_SHA256 must be 64 hex digits" in stderr
    assert server.seen == []


@contextmanager
def stalled_mirror(body: bytes):
    """An image server that sends half of the file, then nothing more until the test ends: a
    transfer a fetch is killed in the middle of."""
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve_one():
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            head = f"HTTP/1.0 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            connection.sendall(head + body[: len(body) // 2])
            done.wait(30)

    thread = threading.Thread(target=serve_one, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/a.tar.gz"
    finally:
        done.set()
        listener.close()
        thread.join(timeout=5)


def leftovers(base) -> list[str]:
    found = [p.name for p in (base / "images").glob(".download-*")]
    if (base / "images" / "rootfs").is_dir():
        found += [p.name for p in (base / "images" / "rootfs").glob(".unpack-*")]
    return sorted(found)


def test_what_a_killed_fetch_left_is_removed_by_the_next(tmp_path, mirror):
    """A fetch SIGKILLed mid-transfer (its worker lost with the SSH session) leaves its partial
    download and tree; the next fetch of that image, holding the locks they were made under,
    removes them before its own."""
    server, body = mirror
    sha = hashlib.sha256(body).hexdigest()
    with stalled_mirror(body) as url:
        killed = fetch(tmp_path, url, sha, new_session=True)
        deadline = time.monotonic() + 30
        while len(leftovers(tmp_path)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # until its download file and its tree exist
        assert len(leftovers(tmp_path)) == 2, leftovers(tmp_path)
        os.killpg(killed.pid, signal.SIGKILL)
        killed.communicate(timeout=10)  # reaped, its pipes closed
    assert len(leftovers(tmp_path)) == 2  # nothing ran its clean-up: SIGKILL

    again = fetch(tmp_path, server.url("/a.tar.gz"), sha)
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert "IMAGE downloaded and verified" in out
    assert leftovers(tmp_path) == []
    assert trees(tmp_path) == [f"{sha}-{ROOT_ID}"]
