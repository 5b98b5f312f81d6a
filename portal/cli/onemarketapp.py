"""`onemarketapp`: browse marketplace apps and export them to an image + VM template."""

import argparse
import sys

from portal.cli.client import add_connection_args, run
from portal.cli.output import as_json, properties, table


def cmd_list(client, args):
    apps = client.list_all("marketplaceapps")
    if args.json:
        return as_json(apps)
    table(
        ["ID", "NAME", "VERSION", "OS", "STATE", "MARKET"],
        [
            [a["id"], a["name"], a["version"], a["os_id"], a["state"], a["marketplace"]]
            for a in apps
        ],
    )
    return 0


def cmd_show(client, args):
    app = client.resolve("marketplaceapps", args.app, "marketplace app")
    if args.json:
        return as_json(app)
    properties(
        f"MARKETPLACE APP {app['id']} INFORMATION",
        [
            ("ID", app["id"]),
            ("NAME", app["name"]),
            ("VERSION", app["version"]),
            ("MARKETPLACE", app["marketplace"]),
            ("STATE", app["state"]),
            ("OS", f"{app['os_id']} {app['os_version']}"),
            ("SOURCE", app["image_url"] or "-"),
            ("SHA256", app["sha256"] or "-"),
            ("SIZE", app["size_bytes"] or "-"),
            ("DESCRIPTION", app["description"]),
        ],
    )
    return 0


def cmd_export(client, args):
    app = client.resolve("marketplaceapps", args.app, "marketplace app")
    result = client.post(
        f"marketplaceapps/{app['id']}/export/", {"name": args.name, "datastore": args.datastore}
    )
    print(f"IMAGE\n    ID: {result['image']}\nVMTEMPLATE\n    ID: {result['template']}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="onemarketapp", description=__doc__)
    add_connection_args(parser)
    sub = parser.add_subparsers(metavar="COMMAND")
    p = sub.add_parser("list")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("show")
    p.add_argument("app", help="ID or name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)
    p = sub.add_parser("export", help="make an image and a VM template from an app")
    p.add_argument("app", help="app ID or name, e.g. 'Alpine Linux 3.13'")
    p.add_argument("name", help="name of the new image and template")
    p.add_argument("-d", "--datastore", required=True, help="image datastore ID or name")
    p.set_defaults(func=cmd_export)
    return parser


def main(argv=None) -> int:
    return run("onemarketapp", build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
