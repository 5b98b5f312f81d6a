"""`onevm backup`, `backup-list`, `backup-delete`, `restore` and `backup-schedule`: a VM's
backups in object storage (OpenNebula's backup verbs); `recover` and `recovery`: what becomes
of a VM whose host is lost."""

from cli.client import CliError
from cli.output import table
from core.units import human_bytes


def _vm(client, ref):
    return client.resolve("vms", ref, "VM")


def cmd_backup(client, args):
    vm = _vm(client, args.vm)
    taken = client.post(f"vms/{vm['id']}/backups/")
    print(f"BACKUP ID: {taken['id']}")
    return 0


def _seconds(value) -> str:
    return "-" if value is None else f"{value:.1f}s"


def cmd_backup_list(client, args):
    vm = _vm(client, args.vm)
    rows = [
        [
            b["id"],
            b["snapshot"] or "-",
            b["state"],
            b["created_at"][:19].replace("T", " "),
            human_bytes(b["disk_bytes"]),
            human_bytes(b["uploaded_bytes"]),
            _seconds(b["duration_s"]),
            "-" if b["freeze_ms"] is None else f"{b['freeze_ms']} ms",
            b["store"],
        ]
        for b in client.get(f"vms/{vm['id']}/backups/")
    ]
    table(
        ["ID", "SNAPSHOT", "STATE", "TIME", "SIZE", "UPLOADED", "DURATION", "FROZEN", "STORE"], rows
    )
    return 0


def cmd_backup_delete(client, args):
    vm = _vm(client, args.vm)
    if args.all:
        done = client.request("DELETE", f"vms/{vm['id']}/backups/").json()
        print(f"VM {vm['name']}: {done['deleted']} backup(s) deleted")
        return 0
    if not args.backup:
        raise CliError("give a backup (ID or snapshot), or --all")
    client.delete(f"vms/{vm['id']}/backups/{args.backup}/")
    return 0


def cmd_restore(client, args):
    vm = _vm(client, args.vm)
    body = {"backup": args.backup}
    if args.as_name:
        body["as_name"] = args.as_name
        if args.provision:
            body["provision"] = args.provision
    done = client.post(f"vms/{vm['id']}/restore/", body)
    if args.as_name:
        print(f"ID: {done['vm']}")
    else:
        print(f"VM {vm['name']}: restoring backup {done['backup']} in place")
    return 0


def add_verbs(cli) -> None:
    p = cli.verb("backup", cmd_backup, "back the VM up now (to its backup store)")
    p.add_argument("vm", help="ID or name")
    p = cli.verb("backup-list", cmd_backup_list, "list the VM's backups")
    p.add_argument("vm", help="ID or name")
    p = cli.verb(
        "backup-delete",
        cmd_backup_delete,
        "delete one of the VM's backups, or --all of them (an ended VM's too)",
    )
    p.add_argument("vm", help="ID or name")
    p.add_argument("backup", nargs="?", help="backup ID or snapshot ID")
    p.add_argument("--all", action="store_true", help="every backup of the VM")
    p = cli.verb(
        "restore",
        cmd_restore,
        "restore a backup: in place (the VM's disk replaced), or --as a new VM",
    )
    p.add_argument("vm", help="ID or name")
    p.add_argument("backup", help="backup ID or snapshot ID")
    p.add_argument("--as", dest="as_name", metavar="NEWNAME", help="restore as a new VM")
    p.add_argument("--provision", help="the new VM's cluster (with --as; default: the VM's)")
    p = cli.verb(
        "backup-schedule",
        cmd_backup_schedule,
        "show or set when the VM is backed up by itself, and how many backups are kept",
    )
    add_schedule_arguments(p)
    add_recovery_verbs(cli)


def schedule_body(args) -> dict | None:
    """The schedule flags as the API's body: --daily HH:MM, --weekly DAY@HH:MM or --monthly
    N@HH:MM, with --keep-daily/--keep-weekly/--keep-monthly; None when none was given."""
    for frequency in ("daily", "weekly", "monthly"):
        value = getattr(args, frequency)
        if value is None:
            continue
        day, _, at = value.rpartition("@")
        body = {"frequency": frequency, "at": at, "day": day}
        for rule in ("daily", "weekly", "monthly"):
            kept = getattr(args, f"keep_{rule}")
            if kept is not None:
                body[f"keep_{rule}"] = kept
        return body
    return None


def show_schedule(client, path: str) -> None:
    try:
        schedule = client.get(path)
    except CliError as exc:
        if exc.status != 404:
            raise
        print("no backup schedule")
        return
    keep = [f"{schedule[f'keep_{r}']} {r}" for r in ("daily", "weekly", "monthly")]
    kept = ", ".join(k for k in keep if not k.startswith("0 ")) or "all"
    inherited = " (the template's)" if schedule.get("inherited") else ""
    print(f"backups {schedule['described']}{inherited}; keeping {kept}")


def cmd_backup_schedule(client, args, collection="vms", kind="VM"):
    target = client.resolve(collection, args.target, kind)
    path = f"{collection}/{target['id']}/backup-schedule/"
    if args.off:
        client.delete(path)
        print(f"{kind} {target['name']}: no backup schedule")
        return 0
    body = schedule_body(args)
    if body is not None:
        client.put(path, body)
    show_schedule(client, path)
    return 0


def add_schedule_arguments(p) -> None:
    p.add_argument("target", help="ID or name")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--daily", metavar="HH:MM", help="every day at HH:MM (UTC)")
    when.add_argument("--weekly", metavar="DAY@HH:MM", help="e.g. sun@02:00")
    when.add_argument("--monthly", metavar="N@HH:MM", help="day 1-28 of each month, e.g. 1@03:00")
    when.add_argument("--off", action="store_true", help="no scheduled backups")
    for rule in ("daily", "weekly", "monthly"):
        p.add_argument(f"--keep-{rule}", type=int, metavar="N", help=f"keep N {rule} backups")


RECOVER_OPERATIONS = ("recreate", "restore", "delete", "success", "failure", "retry")


def cmd_recover(client, args):
    vm = _vm(client, args.vm)
    done = client.post(f"vms/{vm['id']}/recover/", {"operation": args.operation})
    print(f"VM {done['name']}: {done['state']}")
    return 0


def cmd_recovery(client, args):
    vm = _vm(client, args.vm)
    path = f"vms/{vm['id']}/recovery-policy/"
    if args.policy is not None:
        answer = client.put(path, {"policy": "" if args.policy == "template" else args.policy})
    else:
        answer = client.get(path)
    own = "its own" if answer["policy"] else "its template's"
    print(f"VM {answer['name']}: recovery {answer['recovery']} ({own})")
    return 0


def add_recovery_verbs(cli) -> None:
    p = cli.verb(
        "recover",
        cmd_recover,
        "recover a VM whose host is lost (operators): --recreate, --restore, --delete, "
        "--success, --failure or --retry",
    )
    p.add_argument("vm", help="ID or name")
    chosen = p.add_mutually_exclusive_group(required=True)
    for operation in RECOVER_OPERATIONS:
        chosen.add_argument(
            f"--{operation}", dest="operation", action="store_const", const=operation
        )
    p = cli.verb(
        "recovery",
        cmd_recovery,
        "show or set what becomes of the VM when its host is lost",
    )
    p.add_argument("vm", help="ID or name")
    p.add_argument(
        "policy",
        nargs="?",
        choices=["restore", "recreate", "none", "template"],
        help="restore (latest backup), recreate (from its image), none, template (its default)",
    )
