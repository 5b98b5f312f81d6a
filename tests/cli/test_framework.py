"""What every `one*` command shares (cli/framework.py): `--help` lists every verb,
`--json`/`--yaml` on every list and show, exit statuses 0/1/2, a quiet end on a closed pipe."""

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from cli import (
    onebackupstore,
    onegroup,
    onemarketapp,
    oneprovider,
    oneprovision,
    onetemplate,
    oneuser,
    onevm,
    onevnet,
)
from vms import services as vms

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("queued_jobs")]

VERBS = {
    onemarketapp: ["list", "show", "export"],
    oneprovider: ["create", "list", "show", "update", "delete", "test"],
    oneprovision: [
        "create",
        "validate",
        "list",
        "show",
        "delete",
        "retry",
        "configure",
        "repair",
        "log",
        "update",
        "host",
        "chgrp",
        "chown",
    ],
    onetemplate: [
        "list",
        "show",
        "update",
        "instantiate",
        "delete",
        "backup-schedule",
        "chgrp",
        "chown",
    ],
    onevm: [
        "list",
        "show",
        "port-forward",
        "ssh",
        "resize",
        "deploy",
        "poweroff",
        "resume",
        "reboot",
        "terminate",
        "disk-resize",
        "snapshot-create",
        "snapshot-list",
        "snapshot-revert",
        "snapshot-delete",
        "backup",
        "backup-list",
        "backup-delete",
        "restore",
        "backup-schedule",
        "recover",
        "recovery",
        "chgrp",
        "chown",
    ],
    onebackupstore: ["create", "list", "show", "check", "delete"],
    onevnet: ["list", "show", "create", "delete"],
    onegroup: [
        "list",
        "show",
        "create",
        "delete",
        "quota",
        "budget",
        "addadmin",
        "deladmin",
        "addmember",
        "addviewer",
    ],
    oneuser: ["show", "quota", "chgrp", "addgroup", "delgroup"],
}

# Every list and show, with what it shows in the tutorial's world (the `vm` fixture).
STRUCTURED = [
    (onemarketapp, ["list"], "Alpine Linux 3.13"),
    (onemarketapp, ["show", "Alpine Linux 3.13"], "Alpine Linux 3.13"),
    (oneprovider, ["list"], "do"),
    (oneprovider, ["show", "do"], "do"),
    (oneprovision, ["list"], "dc"),
    (oneprovision, ["show", "dc"], "dc"),  # --yaml: the provision as a template
    (oneprovision, ["host", "list", "dc"], "dc-host-0"),
    (onetemplate, ["list"], "Alpine"),
    (onetemplate, ["show", "Alpine"], "Alpine"),
    (onevm, ["list"], "web"),
    (onevm, ["show", "web"], "web"),
    (onevnet, ["list"], "dc-public"),
    (onevnet, ["show", "dc-public"], "dc-public"),
    (onegroup, ["list"], "alice"),
    (onegroup, ["show", "alice"], "alice"),
    (oneuser, ["show", "alice"], "alice"),
]


@pytest.fixture
def vm(owner, template):
    return vms.instantiate(owner, "Alpine", name="web", nics=["dc-public"])


def run(capsys, module, *argv):
    code = module.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _names(data) -> set[str]:
    items = data if isinstance(data, list) else [data]
    return {item.get("name") for item in items}


@pytest.mark.parametrize("module", list(VERBS), ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_help_lists_every_verb_and_exits_0(capsys, module):
    code, out, _ = run(capsys, module, "--help")
    assert code == 0
    # A verb's line starts with four spaces; a help text wrapped onto its own line, with more.
    listed = [line.split()[0] for line in out.splitlines() if re.match(r"    \S", line)]
    assert listed == VERBS[module]


@pytest.mark.parametrize("module", list(VERBS), ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_usage_errors_exit_2(capsys, module):
    assert run(capsys, module)[0] == 2  # no verb
    code, _, err = run(capsys, module, "no-such-verb")
    assert code == 2 and "invalid choice" in err


@pytest.mark.parametrize(("module", "argv", "name"), STRUCTURED, ids=lambda v: str(v))
def test_every_list_and_show_prints_json_and_yaml(cli_env, capsys, vm, module, argv, name):
    code, out, err = run(capsys, module, *argv, "--json")
    assert (code, err) == (0, "")
    assert name in _names(json.loads(out))
    code, out, err = run(capsys, module, *argv, "--yaml")
    assert (code, err) == (0, "")
    data = yaml.safe_load(out)
    # oneprovider show --yaml is the provider's own YAML template (its `name` at the top).
    assert name in _names(data)


def test_json_and_yaml_together_is_a_usage_error(cli_env, capsys):
    code, _, err = run(capsys, oneprovision, "list", "--json", "--yaml")
    assert code == 2 and "not allowed with argument" in err


def test_failure_exits_1(cli_env, capsys):
    code, out, err = run(capsys, oneprovision, "show", "nope")
    assert (code, out) == (1, "") and err == "oneprovision: provision 'nope' not found\n"


def _cli(module: str, *argv: str) -> list[str]:
    code = f"import sys; from cli import {module}; sys.exit({module}.main(sys.argv[1:]))"
    return [sys.executable, "-c", code, *argv]


def test_a_closed_pipe_ends_quietly(cli_env, cluster):
    # The reader is gone before the command writes anything: every write meets EPIPE.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            _cli("oneprovision", "show", "dc"),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (1, "")


def test_show_piped_into_head_prints_no_traceback(cli_env, cluster):
    # `oneprovision show dc | head -1`, the two processes joined by a real pipe.
    show = subprocess.Popen(
        _cli("oneprovision", "show", "dc"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    head = subprocess.run(
        ["head", "-1"], stdin=show.stdout, capture_output=True, text=True, timeout=60, check=False
    )
    show.stdout.close()  # only head holds the read end now: its exit closes the pipe
    _, stderr = show.communicate(timeout=60)
    assert head.stdout == f"PROVISION {cluster.pk} INFORMATION\n"
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
    assert show.returncode in (0, 1)
