"""`oneaudit list` against a live portal: the CLI's own changes, as the API recorded them."""

import json

import pytest

from cli import oneaudit, onegroup
from tests.cli.helpers import run_cli

pytestmark = pytest.mark.django_db(transaction=True)


def test_oneaudit_lists_the_clis_changes(cli_env, capsys):
    assert run_cli(capsys, onegroup, "create", "team")[0] == 0
    code, out, err = run_cli(capsys, oneaudit, "list")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["ID", "AT", "USER", "GROUP"]
    created = next(line for line in lines if " create " in line)
    assert "alice (cli)" in created and "group" in created and "team" in created
    assert any("token_new_address" in line for line in lines)
    code, out, err = run_cli(capsys, oneaudit, "list", "--action", "create", "--json")
    rows = json.loads(out)
    assert [(r["action"], r["object_name"], r["outcome"]) for r in rows] == [
        ("create", "team", "ok")
    ]
    code, out, err = run_cli(capsys, oneaudit, "list", "--outcome", "refused")
    assert code == 0 and len(out.splitlines()) <= 1
