"""`oneaudit`: the audit log, who changed what, as which group, from where, and how it ended
(your own entries; a group admin's also the group's; an operator's all of them)."""

import sys

from cli.framework import Command, structured
from cli.output import table

FILTERS = ("user", "group", "action", "object_type", "object_id", "outcome", "since", "until")


def cmd_list(client, args):
    params = {name: getattr(args, name) for name in FILTERS if getattr(args, name)}
    # One page, newest first: the log can be long, and the latest entries are what is asked for.
    entries = client.get("audit/", limit=args.limit, **params)["results"]
    if structured(args, entries):
        return 0
    table(
        ["ID", "AT", "USER", "GROUP", "FROM", "ACTION", "OBJECT", "STATUS", "OUTCOME"],
        [
            [
                e["id"],
                e["at"][:19].replace("T", " "),
                e["user"] + (f" ({e['token']})" if e["token"] else ""),
                e["group"] or "-",
                e["address"] or "-",
                e["action"],
                _object(e),
                e["status"] if e["status"] is not None else "-",
                e["outcome"],
            ]
            for e in entries
        ],
    )
    return 0


def _object(entry) -> str:
    if not entry["object_type"]:
        return "-"
    kind = entry["object_type"].rsplit(".", 1)[-1]
    name = f" {entry['object_name']}" if entry["object_name"] else ""
    return f"{kind} {entry['object_id']}{name}".strip()


def build() -> Command:
    cli = Command("oneaudit", __doc__)
    p = cli.verb("list", cmd_list, "the latest audit entries you may read", structured=True)
    p.add_argument("--limit", type=int, default=50, help="how many (at most 1000)")
    p.add_argument("--user", help="username")
    p.add_argument("--group", help="group name")
    p.add_argument("--action", help="create, update, delete, action:NAME, login, login_failed...")
    p.add_argument("--object-type", dest="object_type", help="e.g. vms.vm")
    p.add_argument("--object-id", dest="object_id")
    p.add_argument("--outcome", choices=["ok", "refused", "failed"])
    p.add_argument("--since", help="ISO 8601 time, e.g. 2025-06-01T00:00:00Z")
    p.add_argument("--until", help="ISO 8601 time")
    return cli


def main(argv=None) -> int:
    return build().main(argv)


if __name__ == "__main__":
    sys.exit(main())
