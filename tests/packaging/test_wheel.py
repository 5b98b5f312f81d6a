"""The built wheel ships every installed app, the project's own packages and their files."""

import subprocess
import sys
import zipfile
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent.parent


def test_the_wheel_holds_every_installed_app_and_its_files(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q"]
        + ["-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("edge_portal-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
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
