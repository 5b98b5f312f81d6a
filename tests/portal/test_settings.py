import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args, **env):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECURE_"))}
    full_env.update(env)
    full_env = {k: v for k, v in full_env.items() if v is not None}  # None: unset it
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


def test_a_fresh_data_directory_is_private(tmp_path):
    """Another local user must not read the database (encrypted tokens) or the Fernet key that
    decrypts it: the directory is 0700 and every file the portal makes in it is 0600."""
    data = tmp_path / "data"
    result = run_manage("migrate", "--no-input", PORTAL_DATA_DIR=str(data), DATABASE_URL=None)
    assert result.returncode == 0, result.stderr
    assert oct(data.stat().st_mode & 0o777) == "0o700"
    made = sorted(data.iterdir())
    assert {p.name for p in made} >= {"portal.sqlite3", "secret_key", "fernet_key"}
    # staticfiles/ holds the public CSS and JS; the 0700 directory above shields it anyway.
    files = [p for p in made if p.is_file()]
    loose = {p.name: oct(p.stat().st_mode & 0o777) for p in files if p.stat().st_mode & 0o077}
    assert loose == {}


def test_an_existing_world_readable_data_directory_is_tightened(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    (data / "portal.sqlite3").touch(mode=0o644)
    (data / "portal.sqlite3").chmod(0o644)
    data.chmod(0o755)
    result = run_manage("check", PORTAL_DATA_DIR=str(data), DATABASE_URL=None)
    assert result.returncode == 0, result.stderr
    assert oct(data.stat().st_mode & 0o777) == "0o700"
    assert oct((data / "portal.sqlite3").stat().st_mode & 0o777) == "0o600"
