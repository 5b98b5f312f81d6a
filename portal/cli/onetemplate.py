"""`onetemplate`: VM templates: list, show, instantiate, delete."""

import argparse
import sys

from portal.cli.client import add_connection_args, run
from portal.cli.output import as_json, properties, table


def cmd_list(client, args):
    templates = client.list_all("templates")
    if args.json:
        return as_json(templates)
    table(
        ["ID", "NAME", "IMAGE", "CPU", "MEMORY"],
        [[t["id"], t["name"], t["image"], t["cpu"], f"{t['memory_mb']}M"] for t in templates],
    )
    return 0


def cmd_show(client, args):
    template = client.resolve("templates", args.template, "template")
    if args.json:
        return as_json(template)
    properties(
        f"TEMPLATE {template['id']} INFORMATION",
        [
            ("ID", template["id"]),
            ("NAME", template["name"]),
            ("IMAGE", template["image"]),
            ("CPU", template["cpu"]),
            ("MEMORY", f"{template['memory_mb']}M"),
            ("NICS", ", ".join(template["networks"]) or "-"),
        ],
    )
    return 0


def cmd_instantiate(client, args):
    template = client.resolve("templates", args.template, "template")
    vm = client.post(
        f"templates/{template['id']}/instantiate/", {"name": args.name, "nics": args.nic or []}
    )
    print(f"VM ID: {vm['id']}")
    return 0


def cmd_delete(client, args):
    template = client.resolve("templates", args.template, "template")
    client.delete(f"templates/{template['id']}/")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="onetemplate", description=__doc__)
    add_connection_args(parser)
    sub = parser.add_subparsers(metavar="COMMAND")
    p = sub.add_parser("list")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("show")
    p.add_argument("template")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)
    p = sub.add_parser("instantiate", help="create a VM from the template")
    p.add_argument("template", help="ID or name")
    p.add_argument("--name", required=True)
    p.add_argument("--nic", action="append", help="network ID or name (repeatable)")
    p.set_defaults(func=cmd_instantiate)
    p = sub.add_parser("delete")
    p.add_argument("template")
    p.set_defaults(func=cmd_delete)
    return parser


def main(argv=None) -> int:
    return run("onetemplate", build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
