"""`oneprovision`: deploy, watch and delete edge clusters (provisions) on DigitalOcean."""

import argparse
import os
import sys
import time

from portal.cli.client import CliError, add_connection_args, run
from portal.cli.output import as_json, progress_bar, properties, table

TERMINAL = {"RUNNING", "ERROR", "DONE"}


def _poll_interval() -> float:
    return float(os.environ.get("ONEPROVISION_POLL", "1"))


def _resolve(client, ref):
    return client.resolve("provisions", ref, "provision")


def _print_line(line):
    stamp = line["at"][:19].replace("T", " ")
    print(f"{stamp} [{line['level']}] {line['message']}", flush=True)


def follow(client, provision_id: int, success: str, quiet_log: bool = False) -> int:
    """Follow the provision's latest job until the provision is in a terminal state."""
    interactive = sys.stdout.isatty()
    last_line = 0
    while True:
        provision = client.get(f"provisions/{provision_id}/")
        job = provision.get("job") or {}
        lines = client.get(
            f"provisions/{provision_id}/log/", after=last_line, job=job.get("id", "")
        )
        for line in lines:
            last_line = max(last_line, line["id"])
            if not interactive and not quiet_log:
                _print_line(line)
        if interactive and job:
            bar = progress_bar(
                job["steps_done"], job["steps_total"] or 1, f"{job['step']} ({provision['state']})"
            )
            print("\r" + bar.ljust(78), end="", flush=True)
        job_done = not job or job.get("state") in ("SUCCESS", "FAILED")
        if provision["state"] in TERMINAL and job_done:
            if interactive:
                print()
            if provision["state"] == success:
                print(f"{provision['name']}: {provision['state']}")
                return 0
            raise CliError(
                f"provision {provision_id} failed at step "
                f"{provision['failed_step'] or '?'}: {provision['error']}"
            )
        time.sleep(_poll_interval())


def cmd_create(client, args):
    provision = client.post(
        "provisions/",
        {
            "name": args.name,
            "provider": args.provider,
            "hosts": args.hosts,
            "size": args.size or "",
            "image": args.image or "",
        },
    )
    print(f"ID: {provision['id']}", flush=True)
    return follow(client, provision["id"], "RUNNING") if args.wait else 0


def cmd_list(client, args):
    provisions = client.list_all("provisions")
    if not args.all:
        provisions = [p for p in provisions if p["state"] != "DONE"]
    if args.json:
        return as_json(provisions)
    rows = [
        [p["id"], p["name"], p["clusters"], p["hosts"], p["networks"], p["datastores"], p["state"]]
        for p in provisions
    ]
    table(["ID", "NAME", "CLUSTERS", "HOSTS", "NETWORKS", "DATASTORES", "STAT"], rows)
    return 0


def cmd_show(client, args):
    provision = client.get(f"provisions/{_resolve(client, args.provision)['id']}/")
    if args.json:
        return as_json(provision)
    job = provision.get("job")
    pairs = [
        ("ID", provision["id"]),
        ("NAME", provision["name"]),
        ("STATE", provision["state"]),
        ("PROVIDER", provision["provider"]["name"]),
        ("REGION", provision["provider"]["region"]),
        ("SIZE", provision["size"]),
        ("IMAGE", provision["image"]),
        ("TAG", provision["tag"]),
        ("HOST KEY", provision["host_key_fingerprint"]),
    ]
    if provision["failed_step"]:
        pairs += [("FAILED STEP", provision["failed_step"]), ("ERROR", provision["error"])]
    if job:
        pairs.append(
            (
                "JOB",
                f"{job['kind']} #{job['id']} {job['state']} "
                f"{job['steps_done']}/{job['steps_total']} {job['step']}",
            )
        )
    properties(f"PROVISION {provision['id']} INFORMATION", pairs)
    if provision.get("drift"):
        print("\nDRIFT (oneprovision repair mends it)")
        for line in provision["drift"]:
            print(f"  {line}")
    print("\nHOSTS")
    _hosts_table(provision["host_list"])
    troubled = [h for h in provision["host_list"] if h.get("problem") or h["state"] == "ERROR"]
    if troubled:
        print("\nHOST PROBLEMS")
        table(
            ["ID", "NAME", "STATE", "PROBLEM", "FAILED_PROBES", "ERROR"],
            [
                [
                    h["id"],
                    h["name"],
                    h["state"],
                    h.get("problem") or "-",
                    h.get("failed_probes", 0),
                    h["last_error"] or "-",
                ]
                for h in troubled
            ],
        )
    print("\nNETWORKS")
    table(
        ["ID", "NAME", "TYPE", "RANGE"],
        [[n["id"], n["name"], n["kind"], n["address_range"]] for n in provision["network_list"]],
    )
    print("\nDATASTORES")
    table(
        ["ID", "NAME", "TYPE"],
        [[d["id"], d["name"], d["kind"]] for d in provision["datastore_list"]],
    )
    print("\nCLOUD RESOURCES")
    table(
        ["KIND", "NAME", "CLOUD_ID", "STATE"],
        [[r["kind"], r["name"], r["cloud_id"] or "-", r["state"]] for r in provision["resources"]],
    )
    return 0


def _hosts_table(hosts):
    table(
        ["ID", "NAME", "STATE", "PUBLIC_IP", "PRIVATE_IP", "CPU", "MEMORY"],
        [
            [
                h["id"],
                h["name"],
                h["state"],
                h["public_ip"] or "-",
                h["private_ip"] or "-",
                h["cpu"] or "-",
                f"{h['memory_mb']}M" if h["memory_mb"] else "-",
            ]
            for h in hosts
        ],
    )


def cmd_delete(client, args):
    provision = _resolve(client, args.provision)
    suffix = "?force=true" if args.force else ""
    client.request("DELETE", f"provisions/{provision['id']}/{suffix}")
    return follow(client, provision["id"], "DONE") if args.wait else 0


def cmd_retry(client, args):
    provision = _resolve(client, args.provision)
    suffix = "?force=true" if args.force else ""
    client.post(f"provisions/{provision['id']}/retry/{suffix}")
    return follow(client, provision["id"], "RUNNING") if args.wait else 0


def cmd_repair(client, args):
    provision = _resolve(client, args.provision)
    client.post(f"provisions/{provision['id']}/repair/")
    return follow(client, provision["id"], "RUNNING") if args.wait else 0


def cmd_log(client, args):
    provision = _resolve(client, args.provision)
    if args.follow:
        return follow(
            client,
            provision["id"],
            provision["state"] if provision["state"] in TERMINAL else "RUNNING",
        )
    for line in client.get(f"provisions/{provision['id']}/log/"):
        _print_line(line)
    return 0


def cmd_host_list(client, args):
    provision = _resolve(client, args.provision)
    _hosts_table(client.get(f"provisions/{provision['id']}/hosts/"))
    return 0


def cmd_host_add(client, args):
    provision = _resolve(client, args.provision)
    client.post(f"provisions/{provision['id']}/hosts/")
    return follow(client, provision["id"], "RUNNING") if args.wait else 0


def cmd_host_delete(client, args):
    provision = _resolve(client, args.provision)
    hosts = client.get(f"provisions/{provision['id']}/hosts/")
    matches = [h for h in hosts if str(h["id"]) == args.host or h["name"] == args.host]
    if not matches:
        raise CliError(f"host {args.host!r} not found in provision {provision['name']}")
    client.request("DELETE", f"provisions/{provision['id']}/hosts/{matches[0]['id']}/")
    return follow(client, provision["id"], "RUNNING") if args.wait else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oneprovision", description=__doc__)
    add_connection_args(parser)
    sub = parser.add_subparsers(metavar="COMMAND")

    p = sub.add_parser("create", help="deploy a new edge cluster")
    p.add_argument("--provider", required=True, help="provider ID or name")
    p.add_argument("--name", required=True)
    p.add_argument("--hosts", type=int, default=1)
    p.add_argument("--size")
    p.add_argument("--image")
    p.add_argument("--wait", action="store_true", help="follow progress until RUNNING")
    p.set_defaults(func=cmd_create)

    p = sub.add_parser("list", help="list provisions")
    p.add_argument("--all", action="store_true", help="include deleted (DONE) provisions")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="show a provision")
    p.add_argument("provision", help="ID or name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)

    for name, func, help_text in (
        ("delete", cmd_delete, "delete everything it created"),
        ("retry", cmd_retry, "resume from the failed step"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("provision", help="ID or name")
        p.add_argument(
            "--force",
            action="store_true",
            help="also when a job looks stuck (its worker was killed)",
        )
        p.add_argument("--wait", action="store_true")
        p.set_defaults(func=func)

    p = sub.add_parser("repair", help="mend what monitoring found (drift, hosts in ERROR)")
    p.add_argument("provision", help="ID or name")
    p.add_argument("--wait", action="store_true", help="follow progress until RUNNING")
    p.set_defaults(func=cmd_repair)

    p = sub.add_parser("log", help="print the latest job's log")
    p.add_argument("provision", help="ID or name")
    p.add_argument("--follow", action="store_true")
    p.set_defaults(func=cmd_log)

    host = sub.add_parser("host", help="hosts of a provision").add_subparsers(metavar="ACTION")
    p = host.add_parser("list")
    p.add_argument("provision")
    p.set_defaults(func=cmd_host_list)
    p = host.add_parser("add")
    p.add_argument("provision")
    p.add_argument("--wait", action="store_true")
    p.set_defaults(func=cmd_host_add)
    p = host.add_parser("delete")
    p.add_argument("provision")
    p.add_argument("host", help="host ID or name")
    p.add_argument("--wait", action="store_true")
    p.set_defaults(func=cmd_host_delete)
    return parser


def main(argv=None) -> int:
    return run("oneprovision", build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
