"""The built wheel ships every installed app, the project's own packages and their files."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent.parent


def build_wheel(directory: Path) -> Path:
    # setuptools builds in the source tree: its build/ directory goes unless it was there.
    leave_build = (ROOT / "build").exists()
    try:
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q"]
            + ["-w", str(directory), str(ROOT)],
            check=True,
            capture_output=True,
            cwd=directory,
        )
    finally:
        if not leave_build:
            shutil.rmtree(ROOT / "build", ignore_errors=True)
    (wheel,) = directory.glob("edge_portal-*.whl")
    return wheel


def test_the_wheel_holds_every_installed_app_and_its_files(tmp_path):
    names = set(zipfile.ZipFile(build_wheel(tmp_path)).namelist())
    ours = [app for app in settings.INSTALLED_APPS if (ROOT / app).is_dir()]
    assert len(ours) >= 8
    missing = [app for app in ours if f"{app}/__init__.py" not in names]
    assert missing == []
    for package in ("jobs", "hostexec", "cli"):
        assert f"{package}/__init__.py" in names
    # Non-Python files the apps need at run time.
    for needed in (
        "provisions/hostconfig/host-setup.sh",
        "vms/hostscripts/vm-deploy.sh",
        "monitoring/hostscripts/probe.sh",
        "core/migrations/0001_initial.py",
    ):
        assert needed in names
    assert any(name.startswith("vms/templates/") for name in names)
