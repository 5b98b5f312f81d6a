"""`oneprovision`: deploy, watch and delete edge clusters (provisions) on DigitalOcean."""

import sys

import yaml

from cli import ownership
from cli.client import CliError
from cli.framework import Command, read_file, structured
from cli.oneprovision_hosts import host_verbs, hosts_table
from cli.output import properties, table
from cli.provision_follow import TERMINAL, follow, print_line, resolve


def cost_line(provision: dict) -> str:
    """`cost: 4 x s-1vcpu-1gb = $0.0357/h, $24.00/month`, or why there is no figure."""
    estimate = provision.get("estimate")
    if not estimate:
        return "cost: unknown (DigitalOcean gave no price now)"
    return f"cost: {estimate['line']}"


def cmd_create(client, args):
    if args.estimate:
        if args.file or not args.provider:
            raise CliError("--estimate needs --provider (and --hosts, --size): not a FILE")
        found = client.get(
            "provisions/estimate/", provider=args.provider, hosts=args.hosts, size=args.size or ""
        )
        print(f"cost: {found['line']}")
        return 0
    if args.file:
        if args.placement_policy:
            raise CliError("with a template FILE, set `placement:` in it (not --placement-policy)")
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
                "placement_policy": args.placement_policy or "",
                "group": args.group or "",
            },
        )
    print(f"ID: {provision['id']}")
    print(cost_line(provision), flush=True)
    return follow(client, provision["id"], "RUNNING") if args.wait else 0


def _template_body(args) -> dict:
    text, _ = read_file(args.file)
    inputs = {}
    for part in filter(None, (args.user_inputs or "").split(",")):
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise CliError(f"--user-inputs: {part!r} is not NAME=VALUE")
        inputs[name.strip()] = value.strip()
    return {
        "template": text,
        "provider": args.provider or "",
        "user_inputs": inputs,
        "group": getattr(args, "group", None) or "",
    }


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
    provision = client.get(f"provisions/{resolve(client, args.provision)['id']}/")
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
    hosts_table(provision["host_list"])
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
    _cost_section(client, provision)
    print("\nCLOUD RESOURCES")
    table(
        ["KIND", "NAME", "CLOUD_ID", "STATE"],
        [[r["kind"], r["name"], r["cloud_id"] or "-", r["state"]] for r in provision["resources"]],
    )
    return 0


def _cost_section(client, provision):
    cost = client.get(f"provisions/{provision['id']}/cost/")
    print()
    properties(
        "COST (this month, UTC, at DigitalOcean's prices)",
        [
            ("MONTH TO DATE", f"${cost['month_to_date']}"),
            ("PROJECTED", f"${cost['projected']}"),
            ("NOW", f"${cost['hourly']}/h"),
            ("HOSTS", cost_line(provision).removeprefix("cost: ")),
        ],
    )
    if cost["unpriced"]:
        print(f"  {cost['unpriced']} droplet(s) not counted: no price known now")
    if cost["vms"]:
        rows = [
            [v["vm"], v["name"], v["host"], f"${v['month_to_date']}", f"${v['projected']}"]
            for v in cost["vms"]
        ]
        idle = cost["idle"]
        rows.append(
            ["-", "(idle capacity)", "-", f"${idle['month_to_date']}", f"${idle['projected']}"]
        )
        table(["VM", "NAME", "HOST", "MONTH_TO_DATE", "PROJECTED"], rows)


def cmd_update(client, args):
    provision = resolve(client, args.provision)
    changed = client.request(
        "PATCH", f"provisions/{provision['id']}/", json={"placement_policy": args.placement_policy}
    ).json()
    print(f"{changed['name']}: placement policy {changed['placement_policy']}")
    return 0


def cmd_delete(client, args):
    provision = resolve(client, args.provision)
    flags = {"cleanup": args.cleanup, "force": args.force}
    query = "&".join(f"{name}=true" for name, on in flags.items() if on)
    deleted = client.request("DELETE", f"provisions/{provision['id']}/?{query}").json()
    if deleted["state"] == "DONE":
        # A forced delete has no job to follow: print its verification line.
        for line in client.get(f"provisions/{provision['id']}/log/"):
            print_line(line)
        return 0
    return follow(client, provision["id"], "DONE") if args.wait else 0


def _provision_action(action: str):
    """retry, repair, configure: a POST to the provision's action (`?force=true` with
    --force), then, with --wait, the job followed until RUNNING."""

    def command(client, args):
        provision = resolve(client, args.provision)
        suffix = "?force=true" if getattr(args, "force", False) else ""
        client.post(f"provisions/{provision['id']}/{action}/{suffix}")
        return follow(client, provision["id"], "RUNNING") if args.wait else 0

    return command


cmd_retry = _provision_action("retry")
cmd_repair = _provision_action("repair")
cmd_configure = _provision_action("configure")


def cmd_log(client, args):
    provision = resolve(client, args.provision)
    if args.follow:
        return follow(
            client,
            provision["id"],
            provision["state"] if provision["state"] in TERMINAL else "RUNNING",
        )
    for line in client.get(f"provisions/{provision['id']}/log/"):
        print_line(line)
    return 0


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
    ownership.add_group_option(p)
    p.add_argument(
        "--placement-policy",
        metavar="POLICY",
        help="without FILE: packing, striping (default) or load-aware",
    )
    p.add_argument("--wait", action="store_true", help="follow progress until RUNNING")
    p.add_argument(
        "--estimate",
        action="store_true",
        help="without FILE: only print what the droplets would cost; create nothing",
    )

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
    p = cli.verb("update", cmd_update, "change a provision's placement policy")
    p.add_argument("provision", help="ID or name")
    p.add_argument(
        "--placement-policy",
        required=True,
        metavar="POLICY",
        help="packing, striping or load-aware: how the next VMs pick a host",
    )
    host_verbs(cli)
    ownership.add_verbs(cli, "provisions", "provision")
    return cli


def main(argv=None) -> int:
    return build().main(argv)


if __name__ == "__main__":
    sys.exit(main())
