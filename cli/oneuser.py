"""`oneuser`: a user's groups and roles, their primary group (where their new objects go), and
adding them to or removing them from a group (its admins do that)."""

import sys
from urllib.parse import quote

from cli import quotas
from cli.framework import Command, structured
from cli.output import properties, table


def _path(username: str) -> str:
    return f"users/{quote(username, safe='')}/"


def cmd_show(client, args):
    user = client.get(_path(args.user))
    user["quotas"] = client.get(_path(args.user) + "quota/")["quotas"]
    if structured(args, user):
        return 0
    primary = next((g["group"] for g in user["groups"] if g["primary"]), "-")
    properties(
        "USER INFORMATION",
        [
            ("NAME", user["name"]),
            ("GROUP", primary),
            ("OPERATOR", "yes" if user["operator"] else "no"),
        ],
    )
    print()
    table(
        ["GROUP", "ROLE", "PRIMARY"],
        [[g["group"], g["role"], "yes" if g["primary"] else "no"] for g in user["groups"]],
    )
    print()
    quotas.show(user["quotas"])
    return 0


def cmd_quota(client, args):
    """Set the user's limits (operators)."""
    quotas.show(client.put(_path(args.user) + "quota/", quotas.body(args))["quotas"])
    return 0


def cmd_chgrp(client, args):
    client.post(_path(args.user) + "chgrp/", {"group": args.group})
    return 0


def cmd_addgroup(client, args):
    group = client.resolve("groups", args.group, "group")
    client.post(f"groups/{group['id']}/members/", {"user": args.user, "role": args.role})
    return 0


def cmd_delgroup(client, args):
    group = client.resolve("groups", args.group, "group")
    client.delete(f"groups/{group['id']}/members/{quote(args.user, safe='')}/")
    return 0


def build() -> Command:
    cli = Command("oneuser", __doc__)
    p = cli.verb("show", cmd_show, "a user's groups and roles", structured=True)
    p.add_argument("user", help="username")
    p = cli.verb("quota", cmd_quota, "set a user's limits (operators)")
    p.add_argument("user", help="username")
    quotas.add_options(p)
    p = cli.verb("chgrp", cmd_chgrp, "change a user's primary group (one they are in)")
    p.add_argument("user", help="username")
    p.add_argument("group", help="group ID or name")
    p = cli.verb("addgroup", cmd_addgroup, "add a user to a group (its admins do this)")
    p.add_argument("user", help="username")
    p.add_argument("group", help="group ID or name")
    p.add_argument("--role", choices=["admin", "member", "viewer"], default="member")
    p = cli.verb("delgroup", cmd_delgroup, "remove a user from a group (not their primary)")
    p.add_argument("user", help="username")
    p.add_argument("group", help="group ID or name")
    return cli


def main(argv=None) -> int:
    return build().main(argv)


if __name__ == "__main__":
    sys.exit(main())
