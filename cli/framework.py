"""The one shape of every `one*` command: a parser whose `--help` lists every verb, `--json`
and `--yaml` on every list and show, and one way to run that turns outcomes into exit statuses
(0 success, 1 failure, 2 usage) and ends quietly when the reader of a pipe goes away."""

import argparse
import os
import sys
from pathlib import Path

import yaml

from cli.client import Client, CliError, add_connection_args
from cli.output import as_json

SUCCESS, FAILURE, USAGE = 0, 1, 2


class Command:
    """One `one*` program: `verb()` adds a sub-command, `group()` a level of them
    (`oneprovision host ...`), `main()` runs it."""

    def __init__(self, prog: str, description: str):
        self.prog = prog
        self.parser = argparse.ArgumentParser(prog=prog, description=description)
        add_connection_args(self.parser)
        self._verbs = self.parser.add_subparsers(metavar="COMMAND")

    def verb(self, name: str, func, help: str, *, structured: bool = False, under=None):
        """A sub-command; argparse lists only verbs that have a help text, so one is required.
        `structured`: a list or show, which also prints JSON or YAML."""
        parser = (under or self._verbs).add_parser(name, help=help, description=help)
        parser.set_defaults(func=func)
        if structured:
            formats = parser.add_mutually_exclusive_group()
            formats.add_argument("--json", action="store_true", help="print JSON")
            formats.add_argument("--yaml", action="store_true", help="print YAML")
        return parser

    def group(self, name: str, help: str):
        parser = self._verbs.add_parser(name, help=help, description=help)
        return parser.add_subparsers(metavar="ACTION")

    def main(self, argv=None) -> int:
        return run(self.prog, self.parser, argv)


def structured(args, data) -> bool:
    """Print `data` as JSON or YAML if the user asked for one; True when printed."""
    if getattr(args, "json", False):
        as_json(data)
        return True
    if getattr(args, "yaml", False):
        sys.stdout.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
        return True
    return False


def read_file(path: str) -> tuple[str, str]:
    """A YAML file a command takes ('-' for stdin) and the name errors call it by."""
    if path == "-":
        return sys.stdin.read(), "stdin"
    try:
        return Path(path).read_text(), Path(path).name
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CliError(f"{path} is not UTF-8 text") from None


def run(prog: str, parser: argparse.ArgumentParser, argv=None) -> int:
    """Parse, run the chosen sub-command, and turn failures into one line + exit 1."""
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return USAGE if exc.code not in (0, None) else SUCCESS
    if not hasattr(args, "func"):
        parser.print_usage(sys.stderr)
        return USAGE
    try:
        client = Client(args.url, args.token, prog=prog)
        code = args.func(client, args) or SUCCESS
        # Flushed here, not at interpreter exit, so a closed pipe is caught below.
        sys.stdout.flush()
        return code
    except CliError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return FAILURE
    except BrokenPipeError:
        _discard_stdout()
        return FAILURE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def _discard_stdout() -> None:
    """The reader closed the pipe (`| head -1`): what is still buffered would fail again when
    Python flushes stdout at exit and print a traceback, so it goes to /dev/null instead."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
