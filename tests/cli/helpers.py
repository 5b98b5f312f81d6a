"""Running a CLI command in-process: its exit code and what it printed."""

from cli import oneprovision


def run_cli(capsys, module, *argv):
    code = module.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_oneprovision(capsys, *argv):
    return run_cli(capsys, oneprovision, *argv)
