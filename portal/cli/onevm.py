"""`onevm`: list, show, ssh into, port-forward and act on VMs (LXC system containers)."""

import argparse
import sys

from portal.cli.client import CliError, add_connection_args, run
from portal.cli.output import as_json, human_bytes, properties, table

PROMPT = "localhost:~# "


def _vm(client, ref):
    return client.resolve("vms", ref, "VM")


def cmd_list(client, args):
    vms = client.list_all("vms", **({"all": 1} if args.all else {}))
    if args.json:
        return as_json(vms)
    table(
        ["ID", "NAME", "STAT", "HOST", "IP", "CPU", "MEM"],
        [
            [
                v["id"],
                v["name"],
                v["state"],
                v["host"] or "-",
                v["ip"] or "-",
                v["cpu"],
                f"{v['memory_mb']}M",
            ]
            for v in vms
        ],
    )
    return 0


def cmd_show(client, args):
    vm = _vm(client, args.vm)
    if args.json:
        return as_json(vm)
    pairs = [
        ("ID", vm["id"]),
        ("NAME", vm["name"]),
        ("STATE", vm["state"]),
        ("HOST", f"{vm['host']} ({vm['host_ip']})"),
        ("IP", vm["ip"]),
        ("TEMPLATE", vm["template"]),
        ("CPU", vm["cpu"]),
        ("MEMORY", f"{vm['memory_mb']}M"),
    ]
    if vm["failure_reason"]:
        pairs.append(("FAILURE", vm["failure_reason"]))
    for nic in vm["ports"]:
        pairs.append((f"NIC{nic['nic']} EXTERNAL_PORT_RANGE", nic["external_port_range"]))
        pairs.append((f"NIC{nic['nic']} INTERNAL_PORT_RANGE", nic["internal_port_range"]))
    properties(f"VIRTUAL MACHINE {vm['id']} INFORMATION", pairs)
    print()
    _monitoring(client.get(f"vms/{vm['id']}/monitoring/", hours=1).get("latest"))
    return 0


def _monitoring(latest) -> None:
    """OpenNebula's MONITORING section: CPU in % of one core, memory and the cumulative
    NETRX/NETTX of the newest sample ('-' before monitoring has seen the container)."""
    latest = latest or {}
    cpu = latest.get("cpu_percent")
    memory = latest.get("memory_mb")
    properties(
        "VIRTUAL MACHINE MONITORING",
        [
            ("CPU", "-" if cpu is None else f"{cpu:.1f}"),
            ("MEMORY", human_bytes(None if memory is None else memory * 1024 * 1024)),
            ("NETRX", human_bytes(latest.get("net_rx_bytes"))),
            ("NETTX", human_bytes(latest.get("net_tx_bytes"))),
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
    result = client.post(f"vms/{vm['id']}/exec/", {"command": command})
    sys.stdout.write(result["stdout"])
    sys.stderr.write(result["stderr"])
    sys.stdout.flush()
    return result["exit_status"]


def cmd_ssh(client, args):
    vm = _vm(client, args.vm)
    command = [c for c in args.command if c != "--"]
    if command:
        return _exec(client, vm, command)
    # A line-mode shell: each line runs in the container through the portal (no TTY).
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


def _action(name):
    def command(client, args):
        vm = _vm(client, args.vm)
        client.post(f"vms/{vm['id']}/action/", {"action": name})
        return 0

    return command


def build_parser():
    parser = argparse.ArgumentParser(prog="onevm", description=__doc__)
    add_connection_args(parser)
    sub = parser.add_subparsers(metavar="COMMAND")
    p = sub.add_parser("list")
    p.add_argument("--all", action="store_true", help="include terminated (DONE) VMs")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("show")
    p.add_argument("vm", help="ID or name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)
    p = sub.add_parser("port-forward", help="which host port reaches a VM port")
    p.add_argument("vm")
    p.add_argument("port", nargs="?", type=int)
    p.set_defaults(func=cmd_port_forward)
    p = sub.add_parser("ssh", help="a shell (or one command after --) in the VM")
    p.add_argument("vm")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_ssh)
    for name in ("poweroff", "resume", "reboot", "terminate"):
        p = sub.add_parser(name)
        p.add_argument("vm")
        p.set_defaults(func=_action(name))
    return parser


def main(argv=None) -> int:
    return run("onevm", build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
