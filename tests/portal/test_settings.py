import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args, **env):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECURE_"))}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_documented_production_variables(tmp_path):
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SECRET_KEY="x" * 20 + Fernet.generate_key().decode(),
        FERNET_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="portal.example.com",
        SECURE_SSL_REDIRECT="true",
        SECURE_COOKIES="true",
        SECURE_HSTS_SECONDS="31536000",
        PORTAL_DATA_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_check_deploy_fails_without_https_settings(tmp_path):
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", PORTAL_DATA_DIR=str(tmp_path)
    )
    assert result.returncode != 0
    assert "SECURE_SSL_REDIRECT" in result.stderr + result.stdout


def test_fresh_install_gets_random_private_keys(tmp_path):
    result = run_manage("check", PORTAL_DATA_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    for name in ("secret_key", "fernet_key"):
        path = tmp_path / name
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        assert len(path.read_text().strip()) >= 40


def test_bad_boolean_fails_loudly(tmp_path):
    result = run_manage("check", DJANGO_DEBUG="maybe", PORTAL_DATA_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "DJANGO_DEBUG='maybe' is not a boolean" in result.stderr
