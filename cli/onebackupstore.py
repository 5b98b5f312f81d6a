"""`onebackupstore`: where VM backups go: S3-compatible object storage (DigitalOcean Spaces),
one bucket per store. create, list, show, check, delete.

    onebackupstore create spaces --endpoint https://fra1.digitaloceanspaces.com \\
        --region fra1 --bucket my-backups --access-key DO00... [--provider NAME]

The secret key is read from EDGE_BACKUP_SECRET_KEY, else asked for (never on the command line,
where `ps` and shell history would show it); the portal keeps it encrypted and never shows it
again. A store is kept only once the portal could write to the bucket and read it back."""

import getpass
import os
import sys

from cli.client import CliError
from cli.framework import Command, structured
from cli.output import properties, table

SECRET_ENV = "EDGE_BACKUP_SECRET_KEY"  # noqa: S105 - the variable's name, not a secret


def _secret() -> str:
    secret = os.environ.get(SECRET_ENV, "")
    if secret:
        return secret
    if not sys.stdin.isatty():
        secret = sys.stdin.readline().strip()
    else:
        secret = getpass.getpass("secret key: ").strip()
    if not secret:
        raise CliError(f"no secret key: set {SECRET_ENV} or type it when asked")
    return secret


def cmd_create(client, args):
    body = {
        "name": args.name,
        "endpoint": args.endpoint,
        "region": args.region,
        "bucket": args.bucket,
        "access_key": args.access_key,
        "secret_key": _secret(),
    }
    if args.provider:
        body["provider"] = args.provider
    store = client.post("backupstores/", body)
    print(f"ID: {store['id']}")
    return 0


def cmd_list(client, args):
    stores = client.list_all("backupstores")
    if structured(args, stores):
        return 0
    table(
        ["ID", "NAME", "PROVIDER", "ENDPOINT", "BUCKET", "BACKUPS"],
        [
            [s["id"], s["name"], s["provider"] or "-", s["endpoint"], s["bucket"], s["backups"]]
            for s in stores
        ],
    )
    return 0


def _show(store: dict) -> None:
    properties(
        f"BACKUP STORE {store['id']} INFORMATION",
        [
            ("ID", store["id"]),
            ("NAME", store["name"]),
            ("PROVIDER", store["provider"] or "- (the owner's VMs elsewhere)"),
            ("ENDPOINT", store["endpoint"]),
            ("REGION", store["region"]),
            ("BUCKET", store["bucket"]),
            ("ACCESS KEY", store["access_key"]),
            ("SECRET KEY", store["secret_hint"]),
            ("CHECKED", store["checked_at"][:19].replace("T", " ")),
            ("BACKUPS", store["backups"]),
        ],
    )


def cmd_show(client, args):
    store = client.resolve("backupstores", args.store, "backup store")
    if not structured(args, store):
        _show(store)
    return 0


def cmd_check(client, args):
    store = client.resolve("backupstores", args.store, "backup store")
    store = client.post(f"backupstores/{store['id']}/check/")
    print(f"backup store {store['name']}: written to and read back")
    return 0


def cmd_delete(client, args):
    store = client.resolve("backupstores", args.store, "backup store")
    client.delete(f"backupstores/{store['id']}/")
    return 0


def build() -> Command:
    cli = Command("onebackupstore", "Where VM backups go: S3-compatible object storage")
    p = cli.verb("create", cmd_create, "set up a store (checked by writing to its bucket)")
    p.add_argument("name")
    p.add_argument("--endpoint", required=True, help="e.g. https://fra1.digitaloceanspaces.com")
    p.add_argument("--region", required=True, help="e.g. fra1")
    p.add_argument("--bucket", required=True)
    p.add_argument("--access-key", required=True)
    p.add_argument("--provider", help="provider ID or name: the store of its clusters' VMs")
    cli.verb("list", cmd_list, "list the stores", structured=True)
    for verb, func, help in (
        ("show", cmd_show, "show a store"),
        ("check", cmd_check, "check a store again with its key"),
        ("delete", cmd_delete, "forget a store that holds no backup"),
    ):
        p = cli.verb(verb, func, help, structured=verb == "show")
        p.add_argument("store", help="ID or name")
    return cli


def main(argv=None) -> int:
    return build().main(argv)


if __name__ == "__main__":
    sys.exit(main())
