"""`onegroup`: groups of users who share provisions, images, templates and VMs, each member
with a role: admin (manages the group), member (creates and uses its objects) or viewer
(reads only)."""

import sys

from cli import quotas
from cli.client import CliError
from cli.framework import Command, structured
from cli.output import properties, table


def cmd_list(client, args):
    groups = client.list_all("groups")
    if structured(args, groups):
        return 0
    table(
        ["ID", "NAME", "USERS", "ADMINS"],
        [
            [
                g["id"],
                g["name"],
                len(g["members"]),
                ", ".join(m["user"] for m in g["members"] if m["role"] == "admin") or "-",
            ]
            for g in groups
        ],
    )
    return 0


def cmd_show(client, args):
    group = client.resolve("groups", args.group, "group")
    group["quotas"] = client.get(f"groups/{group['id']}/quota/")["quotas"]
    group["cost"] = client.get(f"costs/groups/{group['id']}/")
    if structured(args, group):
        return 0
    properties(
        f"GROUP {group['id']} INFORMATION",
        [("ID", group["id"]), ("NAME", group["name"]), ("DESCRIPTION", group["description"])],
    )
    print()
    table(
        ["USER", "ROLE", "PRIMARY"],
        [[m["user"], m["role"], "yes" if m["primary"] else "no"] for m in group["members"]],
    )
    print()
    quotas.show(group["quotas"])
    print()
    _show_cost(group["cost"])
    return 0


def _show_cost(cost: dict) -> None:
    budget = cost["budget"]
    pairs = [
        ("MONTH TO DATE", f"${cost['month_to_date']}"),
        ("PROJECTED", f"${cost['projected']}"),
        ("HOURLY", f"${cost['hourly']}"),
    ]
    if budget:
        stop = ", hard stop" if budget["hard_stop"] else ""
        pairs.append(
            (
                "BUDGET",
                f"${budget['amount']} (warn at {budget['warn_percent']}%{stop}): "
                f"{budget['percent']}% projected"
                + (f", {budget['level']}" if budget["level"] else ""),
            )
        )
    else:
        pairs.append(("BUDGET", "-"))
    properties("COST THIS MONTH", pairs)


def cmd_quota(client, args):
    """Set the group's limits (operators)."""
    group = client.resolve("groups", args.group, "group")
    answer = client.put(f"groups/{group['id']}/quota/", quotas.body(args))
    quotas.show(answer["quotas"])
    return 0


def cmd_budget(client, args):
    group = client.resolve("groups", args.group, "group")
    path = f"costs/groups/{group['id']}/"
    if args.remove:
        client.delete(path)
        return 0
    if args.amount is None:
        raise CliError("give --amount DOLLARS (or --remove)")
    body = {"amount": args.amount}
    if args.warn is not None:
        body["warn_percent"] = args.warn
    if args.hard_stop is not None:
        body["hard_stop"] = args.hard_stop == "yes"
    _show_cost(client.put(path, body))
    return 0


def cmd_create(client, args):
    group = client.post("groups/", {"name": args.name, "description": args.description or ""})
    print(f"ID: {group['id']}")
    return 0


def cmd_delete(client, args):
    group = client.resolve("groups", args.group, "group")
    client.delete(f"groups/{group['id']}/")
    return 0


def _set_role(role):
    def command(client, args):
        group = client.resolve("groups", args.group, "group")
        client.post(f"groups/{group['id']}/members/", {"user": args.user, "role": role})
        return 0

    return command


def build() -> Command:
    cli = Command("onegroup", __doc__)
    cli.verb("list", cmd_list, "list your groups (operators: all)", structured=True)
    p = cli.verb("show", cmd_show, "a group and its members' roles", structured=True)
    p.add_argument("group", help="ID or name")
    p = cli.verb("create", cmd_create, "create a group; you become its admin")
    p.add_argument("name")
    p.add_argument("--description")
    p = cli.verb("delete", cmd_delete, "delete a group that holds nothing")
    p.add_argument("group", help="ID or name")
    p = cli.verb("quota", cmd_quota, "set a group's limits (operators)")
    p.add_argument("group", help="ID or name")
    quotas.add_options(p)
    p = cli.verb("budget", cmd_budget, "set a group's monthly budget (its admins)")
    p.add_argument("group", help="ID or name")
    p.add_argument("--amount", help="dollars per calendar month")
    p.add_argument("--warn", help="warn at this % of it (default 80)")
    p.add_argument("--hard-stop", choices=["yes", "no"], help="refuse droplets past it")
    p.add_argument("--remove", action="store_true", help="remove the budget")
    for verb, role, text in (
        ("addadmin", "admin", "make a user an admin of the group"),
        ("deladmin", "member", "make an admin a plain member again"),
        ("addmember", "member", "add a user to the group as a member (or make them one)"),
        ("addviewer", "viewer", "add a user who only reads the group's objects"),
    ):
        p = cli.verb(verb, _set_role(role), text)
        p.add_argument("group", help="ID or name")
        p.add_argument("user", help="username")
    return cli


def main(argv=None) -> int:
    return build().main(argv)


if __name__ == "__main__":
    sys.exit(main())
