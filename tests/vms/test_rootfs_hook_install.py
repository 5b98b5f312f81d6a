"""The overlay hook every deploy rewrites on its host: deploys run side by side on one host, so
each must install it without tripping over another's temporary file (CI once saw
`mv: cannot stat '.../one-rootfs-hook.new'` when twenty deploys shared one name)."""

import subprocess

from vms.lxc import SCRIPTS


def test_side_by_side_deploys_each_install_the_whole_hook(tmp_path):
    script = f"""
set -euo pipefail
BASE={tmp_path}
source {SCRIPTS / "rootfs.sh"}
pids=()
for i in $(seq 1 24); do one_rootfs_hook_install & pids+=($!); done
for p in "${{pids[@]}}"; do wait "$p"; done
"""
    run = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    installed = sorted(p.name for p in (tmp_path / "bin").iterdir())
    assert installed == ["one-rootfs-hook"], installed
    hook = tmp_path / "bin" / "one-rootfs-hook"
    assert hook.stat().st_mode & 0o777 == 0o755
    assert hook.read_text().startswith("#!/bin/sh\n") and hook.read_text().rstrip().endswith("esac")
