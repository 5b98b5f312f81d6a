"""`onevm`: list, show, ssh into, port-forward and act on VMs (LXC system containers)."""

import argparse
import sys
from datetime import UTC, datetime

from cli import console_client, onevm_backups, onevm_disks, ownership
from cli.client import CliError
from cli.framework import Command, structured
from cli.output import command_result, properties, table
from core.console_protocol import VM_PATH
from core.units import human_bytes

PROMPT = "localhost:~# "


def _vm(client, ref):
    return client.resolve("vms", ref, "VM")


# OpenNebula's short states in `onevm list` (the full name is in `onevm show`).
SHORT_STATE = {
    "PENDING": "pend",
    "PROLOG": "prol",
    "BOOT": "boot",
    "RUNNING": "runn",
    "POWEROFF": "poff",
    "UNKNOWN": "unkn",
    "FAILURE": "fail",
    "DONE": "done",
}


def elapsed(since: str, now: datetime | None = None) -> str:
    """OpenNebula's TIME column: how long ago the VM was made, as '2d 03h05'."""
    started = datetime.fromisoformat(since.replace("Z", "+00:00"))
    seconds = max(0, int(((now or datetime.now(UTC)) - started).total_seconds()))
    days, rest = divmod(seconds, 86400)
    return f"{days}d {rest // 3600:02d}h{rest % 3600 // 60:02d}"


def cmd_list(client, args):
    vms = client.list_all("vms", **({"all": 1} if args.all else {}))
    if structured(args, vms):
        return 0
    usage = {u["vm"]: u for u in client.get("vms/usage/")} if vms else {}
    rows = []
    for v in vms:
        sample = usage.get(v["id"], {})
        cpu, memory = sample.get("cpu_percent"), sample.get("memory_mb")
        rows.append(
            [
                v["id"],
                v["user"],
                v["group"],
                v["name"],
                SHORT_STATE.get(v["state"], v["state"].lower()[:4]),
                "-" if cpu is None else round(cpu),
                human_bytes(None if memory is None else memory * 1024 * 1024),
                v["host"] or "-",
                elapsed(v["created_at"]),
            ]
        )
    table(["ID", "USER", "GROUP", "NAME", "STAT", "UCPU", "UMEM", "HOST", "TIME"], rows)
    return 0


def cmd_show(client, args):
    vm = _vm(client, args.vm)
    if structured(args, vm):
        return 0
    pairs = [
        ("ID", vm["id"]),
        ("NAME", vm["name"]),
        ("USER", vm["user"]),
        ("GROUP", vm["group"]),
        ("STATE", vm["state"]),
        ("HOST", f"{vm['host']} ({vm['host_ip']})" if vm["host"] else "- (not placed yet)"),
        ("IP", vm["ip"]),
        ("TEMPLATE", vm["template"]),
        ("CPU", vm["cpu"]),
        ("MEMORY", f"{vm['memory_mb']}M"),
        ("DISK", f"{vm['disk_mb']}M" if vm.get("disk_mb") else "unbounded"),
        ("CPU_QUOTA", vm["cpu_quota"] or "-"),
        ("START TIME", vm["created_at"][:19].replace("T", " ")),
    ]
    if vm["failure_reason"]:
        pairs.append(("FAILURE", vm["failure_reason"]))
    if vm.get("placement_reason"):
        pairs.append(("WAITING", vm["placement_reason"]))
    properties(f"VIRTUAL MACHINE {vm['id']} INFORMATION", pairs)
    print()
    _monitoring(client.get(f"vms/{vm['id']}/monitoring/", hours=1).get("latest"))
    print("\nVM NICS")
    nics = [
        [n["nic"], n["network"] or "(deleted)", n["kind"] or "-", n["ip"] or "-", n["mac"] or "-"]
        for n in vm["nics"]
    ]
    table(["ID", "NETWORK", "TYPE", "IP", "MAC"], nics)
    # OpenNebula keeps the forwarded ports in the VM's user template, one pair per NIC.
    ports = []
    for nic in vm["ports"]:
        ports.append((f"NIC{nic['nic']} EXTERNAL_PORT_RANGE", nic["external_port_range"]))
        ports.append((f"NIC{nic['nic']} INTERNAL_PORT_RANGE", nic["internal_port_range"]))
    if ports:
        print()
        properties("USER TEMPLATE", ports)
    return 0


def _monitoring(latest) -> None:
    """OpenNebula's MONITORING section: CPU in % of one core, memory and the cumulative
    NETRX/NETTX of the newest sample ('-' before monitoring has seen the container)."""
    latest = latest or {}
    cpu = latest.get("cpu_percent")
    memory = latest.get("memory_mb")
    disk = latest.get("disk_used_mb")
    properties(
        "VIRTUAL MACHINE MONITORING",
        [
            ("CPU", "-" if cpu is None else f"{cpu:.1f}"),
            ("MEMORY", human_bytes(None if memory is None else memory * 1024 * 1024)),
            ("NETRX", human_bytes(latest.get("net_rx_bytes"))),
            ("NETTX", human_bytes(latest.get("net_tx_bytes"))),
            ("DISK_USED", human_bytes(None if disk is None else disk * 1024 * 1024)),
        ],
    )


def cmd_port_forward(client, args):
    vm = _vm(client, args.vm)
    if args.port is not None:
        print(client.get(f"vms/{vm['id']}/port-forward/", port=args.port)["mapping"])
        return 0
    forwards = client.get(f"vms/{vm['id']}/port-forward/")["forwards"]
    if not forwards:
        raise CliError(f"VM {vm['name']} has no NIC on a public network")
    for entry in forwards:
        first, last = entry["external_port_range"].split(":")
        print(f"{entry['host_ip']}@{first}-{last} -> 1-100")
    return 0


def _exec(client, vm, command) -> int:
    return command_result(client.post(f"vms/{vm['id']}/exec/", {"command": command}))


def cmd_ssh(client, args):
    vm = _vm(client, args.vm)
    command = [c for c in args.command if c != "--"]
    if command:
        return _exec(client, vm, command)
    if sys.stdin.isatty() and sys.stdout.isatty():
        # A real terminal: the console WebSocket, a PTY in the container (vi, top, Ctrl-C).
        return console_client.interactive(client, VM_PATH.format(id=vm["id"]), "onevm")
    # Not a terminal (a script piping lines in): each line runs in the container through the
    # portal's exec endpoint, its output as plain text.
    while True:
        try:
            line = input(PROMPT) if sys.stdin.isatty() else sys.stdin.readline()
        except EOFError:
            line = None
        if line is None or line == "":
            return 0
        line = line.strip()
        if line in ("exit", "logout"):
            return 0
        if not sys.stdin.isatty():
            print(PROMPT + line)
        if line:
            _exec(client, vm, ["/bin/sh", "-c", line])


def cmd_resize(client, args):
    vm = _vm(client, args.vm)
    changes = {}
    if args.cpu is not None:
        changes["cpu"] = args.cpu
    if args.memory is not None:
        changes["memory_mb"] = args.memory
    if args.cpu_quota is not None:
        quota = args.cpu_quota.strip().lower()
        changes["cpu_quota"] = None if quota in ("", "none") else args.cpu_quota
    if not changes:
        print("onevm resize: give --cpu, --memory or --cpu-quota", file=sys.stderr)
        return 2
    vm = client.post(f"vms/{vm['id']}/resize/", changes)
    print(
        f"VM {vm['id']} ({vm['name']}): CPU {vm['cpu']}, MEMORY {vm['memory_mb']}M, "
        f"CPU_QUOTA {vm['cpu_quota'] or 'none'}"
    )
    return 0


def _action(name):
    def command(client, args):
        vm = _vm(client, args.vm)
        client.post(f"vms/{vm['id']}/action/", {"action": name})
        return 0

    return command


def cmd_deploy(client, args):
    vm = _vm(client, args.vm)
    placed = client.post(f"vms/{vm['id']}/deploy/", {"host": args.host})
    print(f"VM {placed['name']} placed on {placed['host']} ({placed['host_ip']}); deploying")
    return 0


def build() -> Command:
    cli = Command("onevm", __doc__)
    p = cli.verb("list", cmd_list, "list VMs", structured=True)
    p.add_argument("--all", action="store_true", help="include terminated (DONE) VMs")
    p = cli.verb("show", cmd_show, "show a VM", structured=True)
    p.add_argument("vm", help="ID or name")
    p = cli.verb("port-forward", cmd_port_forward, "which host port reaches a VM port")
    p.add_argument("vm", help="ID or name")
    p.add_argument("port", nargs="?", type=int)
    p = cli.verb("ssh", cmd_ssh, "a shell (or one command after --) in the VM")
    p.add_argument("vm", help="ID or name")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p = cli.verb("resize", cmd_resize, "change a VM's CPU and memory limits without a restart")
    p.add_argument("vm", help="ID or name")
    p.add_argument("--cpu", help="CPU (the container's CPU weight)")
    p.add_argument("--memory", type=int, help="memory in MB (memory.max)")
    p.add_argument("--cpu-quota", help="at most this many CPUs (cpu.max); none: no quota")
    p = cli.verb("deploy", cmd_deploy, "place a PENDING VM on a host (operators)")
    p.add_argument("vm", help="ID or name")
    p.add_argument("host", help="host ID or name, in the VM's cluster")
    for name, help_text in (
        ("poweroff", "stop the VM's container"),
        ("resume", "start a powered-off VM again"),
        ("reboot", "restart the VM's container"),
        ("terminate", "destroy the VM, releasing its ports and addresses"),
    ):
        p = cli.verb(name, _action(name), help_text)
        p.add_argument("vm", help="ID or name")
    onevm_disks.add_verbs(cli)
    onevm_backups.add_verbs(cli)
    ownership.add_verbs(cli, "vms", "VM")
    return cli


def main(argv=None) -> int:
    return build().main(argv)


if __name__ == "__main__":
    sys.exit(main())
