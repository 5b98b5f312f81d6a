"""The command that runs a host script, under each login shell sshd may hand it to."""

import shutil
import subprocess

import pytest

from hostexec.ssh import script_command

# A script only bash runs ([[ ]], arrays) that says whether it runs in the login shell: the
# login shell sets MARK (not exported) before the command, so only that shell itself sees it.
SCRIPT = """set -euo pipefail
words=(one "two three")
[[ ${#words[@]} == 2 ]] && echo "ran ${words[1]} $NAME $EMPTY. in=${MARK:-another-bash}"
"""
ENV = {"NAME": "it's $(not run)", "EMPTY": ""}


def run_under(shell: list[str], env: dict, script: str = SCRIPT) -> subprocess.CompletedProcess:
    if shutil.which(shell[0]) is None:
        pytest.skip(f"no {shell[0]} on this machine")
    # As sshd runs a command: the login shell given `-c command`.
    return subprocess.run(
        [*shell, "-c", "MARK=login-shell; " + script_command(env)],
        input=script,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_bash_runs_the_script_itself_with_the_environment_quoted():
    result = run_under(["bash"], ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ran two three it's $(not run) . in=login-shell\n"


@pytest.mark.parametrize("shell", [["sh"], ["dash"], ["bash", "--posix"]], ids=" ".join)
def test_other_login_shells_exec_a_bash(shell):
    result = run_under(shell, ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ran two three it's $(not run) . in=another-bash\n"


@pytest.mark.parametrize("shell", [["bash"], ["sh"]], ids=" ".join)
def test_exit_status_and_errexit_are_the_scripts(shell):
    result = run_under(shell, {}, "set -e\necho before\nfalse\necho after\n")
    assert (result.returncode, result.stdout) == (1, "before\n")
    assert run_under(shell, {}, "exit 7\n").returncode == 7


def test_no_environment_exports_nothing():
    assert "export" not in script_command({})
    result = run_under(["bash"], {}, "echo ok\n")
    assert (result.returncode, result.stdout) == (0, "ok\n")


def test_environment_names_are_checked():
    with pytest.raises(ValueError, match="invalid environment variable name"):
        script_command({"A;B": "x"})
