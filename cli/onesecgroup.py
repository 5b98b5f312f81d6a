"""`onesecgroup`: the provisions' security groups (inbound rules added to the cluster's
DigitalOcean firewall on top of its defaults): list, show, create, update, delete.

A rule is PROTOCOL:PORTS:SOURCES, e.g. `tcp:8080:203.0.113.0/24`, `udp:8000-8100:0.0.0.0/0,::/0`
or `icmp::198.51.100.0/24`; the portal checks it (the same 400 as the API and the pages)."""

import sys

from cli.client import CliError
from cli.framework import Command, structured
from cli.output import properties, table

RULE_FORMAT = "PROTOCOL:PORTS:SOURCES (e.g. tcp:8080:203.0.113.0/24)"


def parse_rule(text: str) -> dict:
    # Split twice only: IPv6 sources have colons of their own.
    parts = text.split(":", 2)
    if len(parts) != 3 or not parts[2]:
        raise CliError(f"rule {text!r} is not {RULE_FORMAT}")
    protocol, ports, sources = parts
    return {
        "protocol": protocol,
        "ports": ports or None,
        "sources": [s for s in sources.split(",") if s],
    }


def cmd_list(client, args):
    params = {"provision": args.provision} if args.provision else {}
    groups = client.list_all("secgroups", **params)
    if structured(args, groups):
        return 0
    table(
        ["ID", "NAME", "PROVISION", "RULES"],
        [[g["id"], g["name"], g["provision"], len(g["rules"])] for g in groups],
    )
    return 0


def cmd_show(client, args):
    group = client.resolve("secgroups", args.secgroup, "security group")
    if structured(args, group):
        return 0
    properties(
        f"SECURITY GROUP {group['id']} INFORMATION",
        [
            ("ID", group["id"]),
            ("NAME", group["name"]),
            ("PROVISION", f"{group['provision_id']} {group['provision']}"),
            ("DESCRIPTION", group["description"] or "-"),
        ],
    )
    print()
    table(
        ["#", "PROTOCOL", "PORTS", "SOURCES"],
        [
            [n, r["protocol"], "all" if r["ports"] == "0" else r["ports"], ", ".join(r["sources"])]
            for n, r in enumerate(group["rules"], start=1)
        ],
    )
    return 0


def cmd_create(client, args):
    body = {
        "provision": args.provision,
        "name": args.name,
        "description": args.description or "",
        "rules": [parse_rule(r) for r in args.rule or []],
    }
    group = client.post("secgroups/", body)
    print(f"ID: {group['id']}")
    return 0


def cmd_update(client, args):
    group = client.resolve("secgroups", args.secgroup, "security group")
    body = {}
    if args.name:
        body["name"] = args.name
    if args.description is not None:
        body["description"] = args.description
    if args.rule is not None or args.no_rules:
        body["rules"] = [parse_rule(r) for r in args.rule or []]
    if not body:
        raise CliError("nothing to update: give --rule, --no-rules, --name or --description")
    client.put(f"secgroups/{group['id']}/", body)
    return 0


def cmd_delete(client, args):
    group = client.resolve("secgroups", args.secgroup, "security group")
    client.delete(f"secgroups/{group['id']}/")
    return 0


def build() -> Command:
    cli = Command("onesecgroup", __doc__)
    p = cli.verb("list", cmd_list, "list the security groups", structured=True)
    p.add_argument("--provision", help="only this provision's (its ID)")
    p = cli.verb("show", cmd_show, "a security group and its rules", structured=True)
    p.add_argument("secgroup", help="ID or name")
    p = cli.verb("create", cmd_create, "add a security group to a RUNNING provision")
    p.add_argument("provision", help="provision ID or name")
    p.add_argument("name")
    p.add_argument("--rule", action="append", help=f"{RULE_FORMAT}; repeat for more")
    p.add_argument("--description")
    p = cli.verb("update", cmd_update, "rename a group or replace its rules")
    p.add_argument("secgroup", help="ID or name")
    p.add_argument("--rule", action="append", help=f"{RULE_FORMAT}; replaces every rule")
    p.add_argument("--no-rules", action="store_true", help="remove every rule")
    p.add_argument("--name")
    p.add_argument("--description")
    p = cli.verb("delete", cmd_delete, "delete a security group (its rules leave the firewall)")
    p.add_argument("secgroup", help="ID or name")
    return cli


def main(argv=None) -> int:
    return build().main(argv)


if __name__ == "__main__":
    sys.exit(main())
