"""`onetemplate`: VM templates: list, show, update, instantiate, delete."""

import sys

from cli import onevm_backups, ownership
from cli.framework import Command, structured
from cli.output import properties, table
from core.units import parse_size_mb


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
            ("CPU_QUOTA", template.get("cpu_quota") or "-"),
            ("PIDS_MAX", template.get("pids_max") or "default"),
            (
                "SWAP",
                f"{template['swap_mb']}M" if template.get("swap_mb") is not None else "default",
            ),
            ("DISK", f"{template['disk_mb']}M" if template.get("disk_mb") else "default"),
            ("LXC_UNPRIVILEGED", "yes" if template.get("lxc_unprivileged", True) else "no"),
            ("RECOVERY", template.get("recovery_policy", "restore")),
            ("NICS", ", ".join(template["networks"]) or "-"),
        ],
    )
    return 0


def _optional(value):
    """`none` (or an empty value) clears an optional limit back to the default."""
    return None if value is None or value.strip().lower() in ("", "none", "default") else value


def cmd_update(client, args):
    template = client.resolve("templates", args.template, "template")
    changes = {}
    if args.cpu is not None:
        changes["cpu"] = args.cpu
    if args.memory is not None:
        changes["memory_mb"] = args.memory
    for field, value in (
        ("cpu_quota", args.cpu_quota),
        ("pids_max", args.pids_max),
        ("swap_mb", args.swap),
    ):
        if value is not None:
            changes[field] = _optional(value)
    if args.disk is not None:
        size = _optional(args.disk)
        try:
            changes["disk_mb"] = None if size is None else parse_size_mb(size)
        except ValueError as exc:
            print(f"onetemplate update: --disk: {exc}", file=sys.stderr)
            return 2
    if args.lxc_unprivileged is not None:
        changes["lxc_unprivileged"] = args.lxc_unprivileged == "yes"
    if args.recovery is not None:
        changes["recovery_policy"] = args.recovery
    if not changes:
        print("onetemplate update: nothing to change (see --help)", file=sys.stderr)
        return 2
    client.request("PATCH", f"templates/{template['id']}/", json=changes)
    return 0


def cmd_instantiate(client, args):
    template = client.resolve("templates", args.template, "template")
    vm = client.post(
        f"templates/{template['id']}/instantiate/",
        {"name": args.name, "nics": args.nic or [], "group": args.group or ""},
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
    p = cli.verb("update", cmd_update, "change a VM template's sizing, limits and isolation")
    p.add_argument("template", help="ID or name")
    p.add_argument("--cpu", help="CPU (the container's CPU weight)")
    p.add_argument("--memory", type=int, help="memory in MB (memory.max)")
    p.add_argument("--cpu-quota", help="at most this many CPUs (cpu.max); none: no quota")
    p.add_argument("--pids-max", help="processes in the container (pids.max); none: default")
    p.add_argument("--swap", help="swap in MB on top of the memory; none: default")
    p.add_argument(
        "--disk", help="the VM's disk (DISK SIZE): MB or 512M, 2G; none: the default size"
    )
    p.add_argument(
        "--lxc-unprivileged",
        type=str.lower,
        choices=["yes", "no"],
        help="LXC_UNPRIVILEGED: no asks for a privileged container (operators only)",
    )
    p.add_argument(
        "--recovery",
        choices=["restore", "recreate", "none"],
        help="what becomes of its VMs when their host is lost (default restore)",
    )
    p = cli.verb("instantiate", cmd_instantiate, "create a VM from the template")
    p.add_argument("template", help="ID or name")
    p.add_argument("--name", required=True)
    p.add_argument("--nic", action="append", help="network ID or name (repeatable)")
    ownership.add_group_option(p)
    p = cli.verb("delete", cmd_delete, "delete a VM template")
    p.add_argument("template", help="ID or name")
    p = cli.verb(
        "backup-schedule",
        lambda client, args: onevm_backups.cmd_backup_schedule(
            client, args, "templates", "template"
        ),
        "show or set when the template's VMs are backed up by themselves, and what is kept",
    )
    onevm_backups.add_schedule_arguments(p)
    ownership.add_verbs(cli, "templates", "template")
    return cli


def main(argv=None) -> int:
    return build().main(argv)


if __name__ == "__main__":
    sys.exit(main())
