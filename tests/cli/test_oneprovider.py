import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli import oneprovider
from core.models import ApiToken
from providers.models import Provider
from tests.providers.samples import CORRECTED_YAML, DOCUMENT_YAML

# live_server runs in another thread: the database must be committed, and the predefined
# providers made by a data migration must survive the flush between tests.
pytestmark = pytest.mark.django_db(transaction=True)


def run(capsys, *argv):
    code = oneprovider.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def provider_yaml(tmp_path, do_token):
    path = tmp_path / "provider.yaml"
    path.write_text(CORRECTED_YAML.format(token=do_token))
    return path


def test_create_prints_id(cli_env, capsys, provider_yaml, owner, do_token):
    code, out, err = run(capsys, "create", str(provider_yaml))
    provider = Provider.objects.get(name="digitalocean-nyc3", owner=owner)
    assert (code, out, err) == (0, f"ID: {provider.pk}\n", "")
    assert provider.get_token() == do_token


def test_create_document_yaml_fails_with_line(cli_env, capsys, tmp_path):
    path = tmp_path / "provider.yaml"
    path.write_text(DOCUMENT_YAML)
    code, out, err = run(capsys, "create", str(path))
    assert code == 1 and out == ""
    assert err.startswith("oneprovider: provider.yaml, line 17, column 5: unexpected indentation")
    assert err.count("\n") == 1


def test_list_and_show(cli_env, capsys, provider_yaml, do_token):
    run(capsys, "create", str(provider_yaml))
    code, out, _ = run(capsys, "list")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == ["ID", "NAME", "PROVIDER", "REGION", "TOKEN", "OWNER"]
    assert any("digitalocean-nyc3" in line and "****" + do_token[-4:] in line for line in lines)
    assert any("digitalocean-amsterdam" in line and "shared" in line for line in lines)
    code, out, _ = run(capsys, "show", "digitalocean-nyc3")
    assert code == 0 and "REGION" in out and "ams3" in out and do_token not in out
    code, out, _ = run(capsys, "show", "digitalocean-nyc3", "--yaml")
    assert "name: digitalocean-nyc3" in out and do_token not in out


def test_update_from_file_and_editor(
    cli_env, capsys, provider_yaml, tmp_path, monkeypatch, do_token
):
    run(capsys, "create", str(provider_yaml))
    new = tmp_path / "new.yaml"
    new.write_text(CORRECTED_YAML.format(token="****").replace("'ams3'", "'lon1'"))
    assert run(capsys, "update", "digitalocean-nyc3", str(new))[0] == 0
    provider = Provider.objects.get(name="digitalocean-nyc3")
    assert provider.region == "lon1" and provider.get_token() == do_token
    # The editor path: a fake $EDITOR rewrites the description.
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/^description:.*/description: edited/' \"$1\"\n")
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    assert run(capsys, "update", str(provider.pk))[0] == 0
    provider.refresh_from_db()
    assert provider.description == "edited"


def test_delete_and_not_found(cli_env, capsys, provider_yaml):
    run(capsys, "create", str(provider_yaml))
    assert run(capsys, "delete", "digitalocean-nyc3")[0] == 0
    code, _, err = run(capsys, "delete", "digitalocean-nyc3")
    assert code == 1 and err == "oneprovider: provider 'digitalocean-nyc3' not found\n"


def test_outsider_gets_not_found(cli_env, capsys, provider_yaml, outsider, monkeypatch):
    run(capsys, "create", str(provider_yaml))
    pk = Provider.objects.get(name="digitalocean-nyc3").pk
    _, raw = ApiToken.issue(outsider, "cli")
    monkeypatch.setenv("PORTAL_TOKEN", raw)
    for argv in (["show", str(pk)], ["delete", str(pk)], ["show", "digitalocean-nyc3"]):
        code, _, err = run(capsys, *argv)
        assert code == 1 and "not found" in err, argv
    assert Provider.objects.filter(pk=pk).exists()


def test_missing_token_and_unreachable_portal_are_clear(capsys, monkeypatch):
    monkeypatch.delenv("PORTAL_TOKEN", raising=False)
    code, _, err = run(capsys, "list")
    assert code == 1 and "no API token" in err
    code, _, err = run(capsys, "--url", "http://127.0.0.1:9", "--token", "x", "list")
    assert code == 1 and "cannot reach the portal" in err


def test_installed_console_script(cli_env, provider_yaml):
    script = shutil.which("oneprovider", path=str(Path(sys.executable).parent))
    assert script, "oneprovider is not installed next to the interpreter"
    result = subprocess.run(
        [script, "create", str(provider_yaml)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ID: ")
