"""`onetemplate`: VM templates: list, show, instantiate, delete."""

import sys

from portal.cli.framework import Command, structured
from portal.cli.output import properties, table


def cmd_list(client, args):
    templates = client.list_all("templates")
    if structured(args, templates):
        return 0
    table(
        ["ID", "NAME", "IMAGE", "CPU", "MEMORY"],
        [[t["id"], t["name"], t["image"], t["cpu"], f"{t['memory_mb']}M"] for t in templates],
    )
    return 0


def cmd_show(client, args):
    template = client.resolve("templates", args.template, "template")
    if structured(args, template):
        return 0
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


def build() -> Command:
    cli = Command("onetemplate", __doc__)
    cli.verb("list", cmd_list, "list VM templates", structured=True)
    p = cli.verb("show", cmd_show, "show a VM template", structured=True)
    p.add_argument("template", help="ID or name")
    p = cli.verb("instantiate", cmd_instantiate, "create a VM from the template")
    p.add_argument("template", help="ID or name")
    p.add_argument("--name", required=True)
    p.add_argument("--nic", action="append", help="network ID or name (repeatable)")
    p = cli.verb("delete", cmd_delete, "delete a VM template")
    p.add_argument("template", help="ID or name")
    return cli


def main(argv=None) -> int:
    return build().main(argv)


if __name__ == "__main__":
    sys.exit(main())
