"""`onehook`: a group's webhooks, the HTTPS URLs the portal POSTs its events to (VM and
provision state changes, hosts in ERROR, quota and budget warnings), signed with a secret
shown once. Only the group's admins and the operators manage them."""

import sys

from cli.framework import Command, structured
from cli.output import properties, table

EVENTS = "vm.state, provision.state, host.error, quota.warning, budget.warning"


def _events(text: str) -> list[str]:
    return [e for e in text.replace(",", " ").split() if e]


def _hook(client, ref) -> dict:
    return client.resolve("webhooks", ref, "webhook")


def _print_secret(hook: dict) -> None:
    print(f"ID: {hook['id']}")
    print(f"SECRET: {hook['secret']}")
    print("The secret is shown now only: keep it where your receiver checks signatures.")


def cmd_list(client, args):
    hooks = client.list_all("webhooks", **({"group": args.group} if args.group else {}))
    if structured(args, hooks):
        return 0
    table(
        ["ID", "GROUP", "URL", "EVENTS", "ACTIVE"],
        [
            [h["id"], h["group"], h["url"], ",".join(h["events"]), "yes" if h["active"] else "no"]
            for h in hooks
        ],
    )
    return 0


def cmd_show(client, args):
    hook = _hook(client, args.webhook)
    if structured(args, hook):
        return 0
    properties(
        f"WEBHOOK {hook['id']} INFORMATION",
        [
            ("ID", hook["id"]),
            ("GROUP", hook["group"]),
            ("URL", hook["url"]),
            ("EVENTS", ", ".join(hook["events"])),
            ("ACTIVE", "yes" if hook["active"] else "no"),
            ("SECRET", hook["secret_hint"]),
            ("CREATED BY", hook["created_by"] or "-"),
            ("CREATED", hook["created_at"]),
        ],
    )
    return 0


def cmd_create(client, args):
    body = {"url": args.hook_url, "events": _events(args.events), "active": not args.inactive}
    if args.group:
        body["group"] = args.group
    _print_secret(client.post("webhooks/", body))
    return 0


def cmd_update(client, args):
    hook = _hook(client, args.webhook)
    body = {}
    if args.hook_url:
        body["url"] = args.hook_url
    if args.events:
        body["events"] = _events(args.events)
    if args.active is not None:
        body["active"] = args.active
    client.request("PATCH", f"webhooks/{hook['id']}/", json=body)
    return 0


def cmd_delete(client, args):
    client.delete(f"webhooks/{_hook(client, args.webhook)['id']}/")
    return 0


def cmd_rotate(client, args):
    _print_secret(client.post(f"webhooks/{_hook(client, args.webhook)['id']}/rotate-secret/"))
    return 0


def cmd_ping(client, args):
    sent = client.post(f"webhooks/{_hook(client, args.webhook)['id']}/ping/")
    print(f"DELIVERY: {sent['id']} (onehook deliveries {args.webhook})")
    return 0


def cmd_deliveries(client, args):
    hook = _hook(client, args.webhook)
    params = {"state": args.state} if args.state else {}
    rows = client.get(f"webhooks/{hook['id']}/deliveries/", **params)
    if structured(args, rows):
        return 0
    table(
        ["ID", "EVENT", "STATE", "TRIES", "STATUS", "ERROR", "NEXT TRY", "CREATED", "KEY"],
        [
            [
                d["id"],
                d["event"],
                d["state"],
                d["attempts"],
                d["last_status"] or "-",
                d["last_error"] or "-",
                d["next_attempt_at"] or "-",
                d["created_at"],
                d["key"],
            ]
            for d in rows
        ],
    )
    return 0


def build() -> Command:
    cli = Command("onehook", __doc__)
    p = cli.verb("list", cmd_list, "the webhooks of the groups you admin", structured=True)
    p.add_argument("--group", help="only this group's (ID or name)")
    p = cli.verb("show", cmd_show, "a webhook (its secret is never shown again)", structured=True)
    p.add_argument("webhook", help="ID")
    p = cli.verb("create", cmd_create, "a webhook; prints its secret, once")
    # Not `url`: the portal's own address is --url (PORTAL_URL).
    p.add_argument("hook_url", metavar="URL", help="https://... the events are POSTed to")
    p.add_argument("--events", required=True, help=f"comma-separated: {EVENTS}")
    p.add_argument("--group", help="ID or name (default: your primary group)")
    p.add_argument("--inactive", action="store_true", help="made turned off")
    p = cli.verb("update", cmd_update, "change its URL, events, or turn it on or off")
    p.add_argument("webhook", help="ID")
    p.add_argument("--url", dest="hook_url", metavar="URL", help="a new https://... URL")
    p.add_argument("--events", help=f"comma-separated: {EVENTS}")
    p.add_argument("--active", dest="active", action="store_true", default=None)
    p.add_argument("--inactive", dest="active", action="store_false")
    p = cli.verb("delete", cmd_delete, "delete a webhook and its delivery log")
    p.add_argument("webhook", help="ID")
    p = cli.verb("rotate", cmd_rotate, "a new secret, printed once; the old one stops signing")
    p.add_argument("webhook", help="ID")
    p = cli.verb("ping", cmd_ping, "send it a ping event now")
    p.add_argument("webhook", help="ID")
    p = cli.verb("deliveries", cmd_deliveries, "its delivery log, newest first", structured=True)
    p.add_argument("webhook", help="ID")
    p.add_argument("--state", choices=["PENDING", "DELIVERED", "FAILED"])
    return cli


def main(argv=None) -> int:
    return build().main(argv)


if __name__ == "__main__":
    sys.exit(main())
