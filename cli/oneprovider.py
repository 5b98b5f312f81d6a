"""`oneprovider`: manage DigitalOcean providers (create from YAML, list, show, update, delete)."""

import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from cli.client import CliError
from cli.framework import Command, read_file, structured
from cli.output import properties, table


def cmd_create(client, args):
    text, source = read_file(args.file)
    provider = client.post("providers/import/", {"yaml": text, "source": source})
    print(f"ID: {provider['id']}")


def cmd_list(client, args):
    providers = client.list_all("providers")
    if structured(args, providers):
        return 0
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
    if structured(args, provider):
        return 0
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
        text, source = read_file(args.file)
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


def build() -> Command:
    cli = Command("oneprovider", __doc__)
    p = cli.verb("create", cmd_create, "create a provider from a YAML template")
    p.add_argument("file", help="provider YAML file ('-' for stdin)")
    cli.verb("list", cmd_list, "list providers", structured=True)
    # --yaml here prints the provider's own YAML template (token masked), which `create` and
    # `update` take back, rather than the API's fields.
    p = cli.verb("show", cmd_show, "show a provider", structured=True)
    p.add_argument("provider", help="ID or name")
    p = cli.verb("update", cmd_update, "update a provider (opens $EDITOR without FILE)")
    p.add_argument("provider", help="ID or name")
    p.add_argument("file", nargs="?", help="YAML file with the new template")
    p = cli.verb("delete", cmd_delete, "delete a provider")
    p.add_argument("provider", help="ID or name")
    p = cli.verb("test", cmd_test, "check the provider's token against DigitalOcean")
    p.add_argument("provider", help="ID or name")
    return cli


def main(argv=None) -> int:
    return build().main(argv)


if __name__ == "__main__":
    sys.exit(main())
