"""`onemarketapp`: browse marketplace apps and export them to an image + VM template."""

import sys

from cli import ownership
from cli.framework import Command, structured
from cli.output import properties, table


def cmd_list(client, args):
    apps = client.list_all("marketplaceapps")
    if structured(args, apps):
        return 0
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
    if structured(args, app):
        return 0
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
        f"marketplaceapps/{app['id']}/export/",
        {"name": args.name, "datastore": args.datastore, "group": args.group or ""},
    )
    print(f"IMAGE\n    ID: {result['image']}\nVMTEMPLATE\n    ID: {result['template']}")
    return 0


def build() -> Command:
    cli = Command("onemarketapp", __doc__)
    cli.verb("list", cmd_list, "list the catalogue's apps", structured=True)
    p = cli.verb("show", cmd_show, "show an app", structured=True)
    p.add_argument("app", help="ID or name")
    p = cli.verb("export", cmd_export, "make an image and a VM template from an app")
    p.add_argument("app", help="app ID or name, e.g. 'Alpine Linux 3.13'")
    p.add_argument("name", help="name of the new image and template")
    p.add_argument("-d", "--datastore", required=True, help="image datastore ID or name")
    ownership.add_group_option(p)
    return cli


def main(argv=None) -> int:
    return build().main(argv)


if __name__ == "__main__":
    sys.exit(main())
