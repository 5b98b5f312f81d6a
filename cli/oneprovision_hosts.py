"""`oneprovision host ...`: one provision's hosts, with their capacity and what their VMs
reserve (from the API's host list)."""

import argparse

from cli import console_client
from cli.client import CliError
from cli.framework import Command, structured
from cli.output import command_result, table
from cli.provision_follow import follow, resolve
from core.console_protocol import HOST_PATH


def allocated(entry: dict | None) -> str:
    """OpenNebula's ALLOCATED_CPU / ALLOCATED_MEM: what the host's VMs reserve of what it
    offers, '1.5 / 8 (18%)'; memory in MiB as '512M / 1792M (28%)'."""
    if not entry:
        return "-"
    suffix = "M" if entry["unit"] == "MiB" else ""
    reserved, total = entry["reserved"], entry["total"]
    if total is None:  # not reported by the host yet
        return f"{reserved:g}{suffix} / ?"
    share = f" ({round(100 * reserved / total)}%)" if total else ""
    return f"{reserved:g}{suffix} / {total:g}{suffix}{share}"


def hosts_table(hosts):
    # One column per capacity dimension the portal reports (cpu, memory...), in its order.
    dimensions = []
    for h in hosts:
        for entry in h.get("capacity") or []:
            if entry["dimension"] not in dimensions:
                dimensions.append(entry["dimension"])
    rows = []
    for h in hosts:
        by_name = {entry["dimension"]: entry for entry in h.get("capacity") or []}
        rows.append(
            [
                h["id"],
                h["name"],
                h["state"],
                h["public_ip"] or "-",
                h["private_ip"] or "-",
                h["cpu"] or "-",
                f"{h['memory_mb']}M" if h["memory_mb"] else "-",
                *(allocated(by_name.get(name)) for name in dimensions),
            ]
        )
    headers = ["ID", "NAME", "STATE", "PUBLIC_IP", "PRIVATE_IP", "CPU", "MEMORY"]
    table(headers + [f"ALLOCATED_{name.upper()}" for name in dimensions], rows)


def cmd_host_list(client, args):
    provision = resolve(client, args.provision)
    hosts = client.get(f"provisions/{provision['id']}/hosts/")
    if not structured(args, hosts):
        hosts_table(hosts)
    return 0


def cmd_host_add(client, args):
    provision = resolve(client, args.provision)
    added = client.post(f"provisions/{provision['id']}/hosts/")
    estimate = added.get("estimate")
    if estimate:
        print(f"cost: now {estimate['line']}", flush=True)
    return follow(client, provision["id"], "RUNNING") if args.wait else 0


def _host(client, provision, ref) -> dict:
    hosts = client.get(f"provisions/{provision['id']}/hosts/")
    matches = [h for h in hosts if str(h["id"]) == ref or h["name"] == ref]
    if not matches:
        raise CliError(f"host {ref!r} not found in provision {provision['name']}")
    return matches[0]


def cmd_host_delete(client, args):
    provision = resolve(client, args.provision)
    host = _host(client, provision, args.host)
    client.request("DELETE", f"provisions/{provision['id']}/hosts/{host['id']}/")
    return follow(client, provision["id"], "RUNNING") if args.wait else 0


def cmd_host_configure(client, args):
    provision = resolve(client, args.provision)
    host = _host(client, provision, args.host)
    client.post(f"provisions/{provision['id']}/hosts/{host['id']}/configure/")
    return follow(client, provision["id"], "RUNNING") if args.wait else 0


def cmd_host_fence(client, args):
    provision = resolve(client, args.provision)
    host = _host(client, provision, args.host)
    client.post(f"provisions/{provision['id']}/hosts/{host['id']}/fence/")
    print(f"host {host['name']}: fencing, then its VMs are recovered elsewhere")
    return 0


def cmd_host_ssh(client, args):
    """An operator's shell on a host, or one command after --, through the portal (its pinned
    host key, audited as a console session)."""
    provision = resolve(client, args.provision)
    host = _host(client, provision, args.host)
    command = [c for c in args.command if c != "--"]
    if not command:
        return console_client.interactive(client, HOST_PATH.format(id=host["id"]), "oneprovision")
    return command_result(client.post(f"hosts/{host['id']}/exec/", {"command": command}))


def host_verbs(cli: Command) -> None:
    """`oneprovision host ...`: one provision's hosts."""
    hosts = cli.group("host", "hosts of a provision")
    p = cli.verb("list", cmd_host_list, "list the provision's hosts", structured=True, under=hosts)
    p.add_argument("provision", help="ID or name")
    p = cli.verb("add", cmd_host_add, "add a host", under=hosts)
    p.add_argument("provision", help="ID or name")
    p.add_argument("--wait", action="store_true")
    p = cli.verb("delete", cmd_host_delete, "remove a host (no live VM on it)", under=hosts)
    p.add_argument("provision", help="ID or name")
    p.add_argument("host", help="host ID or name")
    p.add_argument("--wait", action="store_true")
    p = cli.verb("configure", cmd_host_configure, "run one host's configuration again", under=hosts)
    p.add_argument("provision", help="ID or name")
    p.add_argument("host", help="host ID or name")
    p.add_argument("--wait", action="store_true")
    p = cli.verb(
        "fence",
        cmd_host_fence,
        "power off (or destroy) a lost host's droplet, then recover its VMs (operators)",
        under=hosts,
    )
    p.add_argument("provision", help="ID or name")
    p.add_argument("host", help="host ID or name")
    p = cli.verb(
        "ssh",
        cmd_host_ssh,
        "a shell (or one command after --) on the host (operators)",
        under=hosts,
    )
    p.add_argument("provision", help="ID or name")
    p.add_argument("host", help="host ID or name")
    p.add_argument("command", nargs=argparse.REMAINDER)
