"""`chgrp` and `chown`, the same on every command whose objects have a user and a group
(onevm, onetemplate, oneimage's images through onetemplate's API, oneprovision)."""

from cli.framework import Command


def add_verbs(cli: Command, collection: str, kind: str) -> None:
    """`PROG chgrp REF GROUP` and `PROG chown REF USER` for `collection` (an API path)."""

    def chgrp(client, args):
        found = client.resolve(collection, args.ref, kind)
        moved = client.post(f"{collection}/{found['id']}/chgrp/", {"group": args.group})
        print(f"{kind} {moved['name']} is in group {moved['group']}")
        return 0

    def chown(client, args):
        found = client.resolve(collection, args.ref, kind)
        given = client.post(f"{collection}/{found['id']}/chown/", {"user": args.user})
        print(f"{kind} {given['name']} belongs to {_owner(given)}")
        return 0

    p = cli.verb("chgrp", chgrp, f"move a {kind} to another group (one you create in)")
    p.add_argument("ref", metavar=kind.upper(), help="ID or name")
    p.add_argument("group", metavar="GROUP", help="group ID or name")
    p = cli.verb("chown", chown, f"give a {kind} to another admin or member of its group")
    p.add_argument("ref", metavar=kind.upper(), help="ID or name")
    p.add_argument("user", metavar="USER", help="username")


def _owner(obj: dict) -> str:
    return obj.get("user") or obj.get("owner") or "-"


def add_group_option(parser) -> None:
    """`--group` on a create: the group the new object goes in."""
    parser.add_argument("--group", help="group ID or name for it (default: your primary group)")
