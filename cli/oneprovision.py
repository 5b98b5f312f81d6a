"""`oneprovision`: deploy, watch and delete edge clusters (provisions) on DigitalOcean."""

import argparse
import os
import sys
import time

import yaml

from cli import console_client
from cli.client import CliError
from cli.framework import Command, read_file, structured
from cli.output import command_result, progress_bar, properties, table
from core.console_protocol import HOST_PATH

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
    if args.file:
        provision = client.post("provisions/from-template/", _template_body(args))
    elif not args.name or not args.provider:
        raise CliError("create needs a provision template FILE, or --provider and --name")
    else:
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


def _template_body(args) -> dict:
    text, _ = read_file(args.file)
    inputs = {}
    for part in filter(None, (args.user_inputs or "").split(",")):
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise CliError(f"--user-inputs: {part!r} is not NAME=VALUE")
        inputs[name.strip()] = value.strip()
    return {"template": text, "provider": args.provider or "", "user_inputs": inputs}


def cmd_validate(client, args):
    resolved = client.post("provisions/validate-template/", _template_body(args))
    if args.dump:
        sys.stdout.write(yaml.safe_dump(resolved, sort_keys=False))
    else:
        print(f"{args.file}: valid ({resolved['name']}, {resolved['hosts']} host(s))")
    return 0


def cmd_list(client, args):
    provisions = client.list_all("provisions")
    if not args.all:
        provisions = [p for p in provisions if p["state"] != "DONE"]
    if structured(args, provisions):
        return 0
    rows = [
        [p["id"], p["name"], p["clusters"], p["hosts"], p["networks"], p["datastores"], p["state"]]
        for p in provisions
    ]
    table(["ID", "NAME", "CLUSTERS", "HOSTS", "NETWORKS", "DATASTORES", "STAT"], rows)
    return 0


def cmd_show(client, args):
    provision = client.get(f"provisions/{_resolve(client, args.provision)['id']}/")
    if args.yaml:
        # As a provision template, which `create` takes back (the API's fields: --json).
        sys.stdout.write(client.text(f"provisions/{provision['id']}/template/"))
        return 0
    if structured(args, provision):
        return 0
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
    flags = {"cleanup": args.cleanup, "force": args.force}
    query = "&".join(f"{name}=true" for name, on in flags.items() if on)
    deleted = client.request("DELETE", f"provisions/{provision['id']}/?{query}").json()
    if deleted["state"] == "DONE":
        # A forced delete has no job to follow: print its verification line.
        for line in client.get(f"provisions/{provision['id']}/log/"):
            _print_line(line)
        return 0
    return follow(client, provision["id"], "DONE") if args.wait else 0


def _provision_action(action: str):
    """retry, repair, configure: a POST to the provision's action (`?force=true` with
    --force), then, with --wait, the job followed until RUNNING."""

    def command(client, args):
        provision = _resolve(client, args.provision)
        suffix = "?force=true" if getattr(args, "force", False) else ""
        client.post(f"provisions/{provision['id']}/{action}/{suffix}")
        return follow(client, provision["id"], "RUNNING") if args.wait else 0

    return command


cmd_retry = _provision_action("retry")
cmd_repair = _provision_action("repair")
cmd_configure = _provision_action("configure")


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
    hosts = client.get(f"provisions/{provision['id']}/hosts/")
    if not structured(args, hosts):
        _hosts_table(hosts)
    return 0


def cmd_host_add(client, args):
    provision = _resolve(client, args.provision)
    client.post(f"provisions/{provision['id']}/hosts/")
    return follow(client, provision["id"], "RUNNING") if args.wait else 0


def _host(client, provision, ref) -> dict:
    hosts = client.get(f"provisions/{provision['id']}/hosts/")
    matches = [h for h in hosts if str(h["id"]) == ref or h["name"] == ref]
    if not matches:
        raise CliError(f"host {ref!r} not found in provision {provision['name']}")
    return matches[0]


def cmd_host_delete(client, args):
    provision = _resolve(client, args.provision)
    host = _host(client, provision, args.host)
    client.request("DELETE", f"provisions/{provision['id']}/hosts/{host['id']}/")
    return follow(client, provision["id"], "RUNNING") if args.wait else 0


def cmd_host_configure(client, args):
    provision = _resolve(client, args.provision)
    host = _host(client, provision, args.host)
    client.post(f"provisions/{provision['id']}/hosts/{host['id']}/configure/")
    return follow(client, provision["id"], "RUNNING") if args.wait else 0


def cmd_host_ssh(client, args):
    """An operator's shell on a host, or one command after --, through the portal (its pinned
    host key, audited as a console session)."""
    provision = _resolve(client, args.provision)
    host = _host(client, provision, args.host)
    command = [c for c in args.command if c != "--"]
    if not command:
        return console_client.interactive(client, HOST_PATH.format(id=host["id"]), "oneprovision")
    return command_result(client.post(f"hosts/{host['id']}/exec/", {"command": command}))


def build() -> Command:
    cli = Command("oneprovision", __doc__)
    p = cli.verb("create", cmd_create, "deploy a new edge cluster (from a template FILE)")
    p.add_argument("file", nargs="?", help="provision template YAML ('-' for stdin)")
    p.add_argument("--provider", help="provider ID or name (over the template's)")
    p.add_argument("--user-inputs", metavar="NAME=VALUE,...", help="the template's inputs")
    p.add_argument("--name", help="without FILE: the provision's name")
    p.add_argument("--hosts", type=int, default=1, help="without FILE")
    p.add_argument("--size", help="without FILE")
    p.add_argument("--image", help="without FILE")
    p.add_argument("--wait", action="store_true", help="follow progress until RUNNING")

    p = cli.verb("validate", cmd_validate, "check a provision template, creating nothing")
    p.add_argument("file", help="provision template YAML ('-' for stdin)")
    p.add_argument("--provider", help="provider ID or name (over the template's)")
    p.add_argument("--user-inputs", metavar="NAME=VALUE,...", help="the template's inputs")
    p.add_argument("--dump", action="store_true", help="print the template, inputs resolved")

    p = cli.verb("list", cmd_list, "list provisions", structured=True)
    p.add_argument("--all", action="store_true", help="include deleted (DONE) provisions")

    p = cli.verb("show", cmd_show, "show a provision", structured=True)
    p.add_argument("provision", help="ID or name")

    p = cli.verb("delete", cmd_delete, "delete everything it created")
    p.add_argument("provision", help="ID or name")
    p.add_argument(
        "--cleanup",
        action="store_true",
        help="also terminate the cluster's VMs (without it, refused while any VM lives)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="operators: a provision in ERROR whose cloud side is already gone is DONE at "
        "once, after checking that nothing of it is left in DigitalOcean",
    )
    p.add_argument("--wait", action="store_true")

    p = cli.verb("retry", cmd_retry, "resume from the failed step")
    p.add_argument("provision", help="ID or name")
    p.add_argument(
        "--force", action="store_true", help="also when a job looks stuck (its worker was killed)"
    )
    p.add_argument("--wait", action="store_true")

    p = cli.verb("configure", cmd_configure, "run the hosts' configuration again")
    p.add_argument("provision", help="ID or name")
    p.add_argument("--force", action="store_true", help="also when the provision is not in ERROR")
    p.add_argument("--wait", action="store_true", help="follow progress until RUNNING")

    p = cli.verb("repair", cmd_repair, "mend what monitoring found (drift, hosts in ERROR)")
    p.add_argument("provision", help="ID or name")
    p.add_argument("--wait", action="store_true", help="follow progress until RUNNING")

    p = cli.verb("log", cmd_log, "print the latest job's log")
    p.add_argument("provision", help="ID or name")
    p.add_argument("--follow", action="store_true")
    _host_verbs(cli)
    return cli


def _host_verbs(cli: Command) -> None:
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
        "ssh",
        cmd_host_ssh,
        "a shell (or one command after --) on the host (operators)",
        under=hosts,
    )
    p.add_argument("provision", help="ID or name")
    p.add_argument("host", help="host ID or name")
    p.add_argument("command", nargs=argparse.REMAINDER)


def main(argv=None) -> int:
    return build().main(argv)


if __name__ == "__main__":
    sys.exit(main())
