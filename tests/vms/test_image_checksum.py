"""rootfs.sh's one_sha256, what every image download is checked with: OpenSSL's where the
host has it (several times faster), coreutils' sha256sum otherwise, the same answer both ways,
and a failure (no file) never read as a checksum."""

import hashlib
import shutil
import subprocess

import pytest

from vms.lxc import SCRIPTS


def sha256(path, *, without_openssl=False) -> subprocess.CompletedProcess:
    shadow = "openssl() { return 1; }" if without_openssl else ""
    script = f"""
set -uo pipefail
BASE=/nonexistent
source {SCRIPTS / "rootfs.sh"}
{shadow}
one_sha256 {path}
"""
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True)


@pytest.mark.parametrize("without_openssl", [False, True])
def test_the_checksum_is_the_files(tmp_path, without_openssl):
    if not without_openssl and shutil.which("openssl") is None:
        pytest.skip("no openssl on this machine: the fallback is the other case")
    image = tmp_path / "image.tar.gz"
    image.write_bytes(b"an image" * 10000)
    run = sha256(image, without_openssl=without_openssl)
    assert run.returncode == 0, run.stderr
    assert run.stdout == hashlib.sha256(image.read_bytes()).hexdigest() + "\n"


def test_a_missing_file_is_a_failure_not_a_checksum(tmp_path):
    run = sha256(tmp_path / "gone")
    assert run.returncode != 0 and run.stdout == ""
