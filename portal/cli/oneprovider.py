"""`oneprovider`: manage DigitalOcean providers (create from YAML, list, show, update, delete)."""

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from portal.cli.client import CliError, add_connection_args, run
from portal.cli.output import as_json, properties, table


def _read_file(path: str) -> tuple[str, str]:
    if path == "-":
        return sys.stdin.read(), "stdin"
    try:
        return Path(path).read_text(), Path(path).name
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CliError(f"{path} is not UTF-8 text") from None


def cmd_create(client, args):
    text, source = _read_file(args.file)
    provider = client.post("providers/import/", {"yaml": text, "source": source})
    print(f"ID: {provider['id']}")


def cmd_list(client, args):
    providers = client.list_all("providers")
    if args.json:
        return as_json(providers)
    rows = [
        [
            p["id"],
            p["name"],
            p["provider"],
            p["connection"]["region"],
            p["token_hint"] or "-",
            p["owner"] or "shared",
        ]
        for p in providers
    ]
    table(["ID", "NAME", "PROVIDER", "REGION", "TOKEN", "OWNER"], rows)


def cmd_show(client, args):
    provider = client.resolve("providers", args.provider, "provider")
    if args.yaml:
        sys.stdout.write(client.text(f"providers/{provider['id']}/yaml/"))
        return None
    if args.json:
        return as_json(provider)
    properties(
        f"PROVIDER {provider['id']} INFORMATION",
        [
            ("ID", provider["id"]),
            ("NAME", provider["name"]),
            ("DESCRIPTION", provider["description"]),
            ("PROVIDER", provider["provider"]),
            ("REGION", provider["connection"]["region"]),
            ("TOKEN", provider["token_hint"] or "not set"),
            ("OWNER", provider["owner"] or "shared"),
            ("REGTIME", provider["created_at"]),
        ],
    )
    return None


def _edit(text: str) -> str:
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile("w+", suffix=".yaml", delete=False) as handle:
        handle.write(text)
        path = handle.name
    try:
        status = subprocess.call([*shlex.split(editor), path])
        if status != 0:
            raise CliError(f"editor {editor!r} exited with status {status}; nothing changed")
        return Path(path).read_text()
    finally:
        os.unlink(path)


def cmd_update(client, args):
    provider = client.resolve("providers", args.provider, "provider")
    if args.file:
        text, source = _read_file(args.file)
    else:
        current = client.text(f"providers/{provider['id']}/yaml/")
        text, source = _edit(current), "edited YAML"
        if text == current:
            print("No changes.")
            return
    client.put(f"providers/{provider['id']}/yaml/", {"yaml": text, "source": source})


def cmd_delete(client, args):
    provider = client.resolve("providers", args.provider, "provider")
    client.delete(f"providers/{provider['id']}/")


def cmd_test(client, args):
    provider = client.resolve("providers", args.provider, "provider")
    result = client.post(f"providers/{provider['id']}/test-connection/")
    if not result["ok"]:
        raise CliError(f"connection failed: {result['error']}")
    print(
        f"OK: {result['email']} (status {result['status']}, "
        f"droplet limit {result['droplet_limit']})"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oneprovider", description=__doc__)
    add_connection_args(parser)
    sub = parser.add_subparsers(metavar="COMMAND")

    p = sub.add_parser("create", help="create a provider from a YAML template")
    p.add_argument("file", help="provider YAML file ('-' for stdin)")
    p.set_defaults(func=cmd_create)

    p = sub.add_parser("list", help="list providers")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="show a provider")
    p.add_argument("provider", help="ID or name")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--yaml", action="store_true", help="print the YAML template (token masked)")
    fmt.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("update", help="update a provider (opens $EDITOR without FILE)")
    p.add_argument("provider", help="ID or name")
    p.add_argument("file", nargs="?", help="YAML file with the new template")
    p.set_defaults(func=cmd_update)

    p = sub.add_parser("delete", help="delete a provider")
    p.add_argument("provider", help="ID or name")
    p.set_defaults(func=cmd_delete)

    p = sub.add_parser("test", help="check the provider's token against DigitalOcean")
    p.add_argument("provider", help="ID or name")
    p.set_defaults(func=cmd_test)
    return parser


def main(argv=None) -> int:
    return run("oneprovider", build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
