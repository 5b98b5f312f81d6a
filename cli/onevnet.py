"""`onevnet`: the clusters' virtual networks: list, show (with leases), create a private one."""

import sys

from cli.framework import Command, structured
from cli.output import properties, table


def cmd_list(client, args):
    params = {"kind": args.kind} if args.kind else {}
    networks = client.list_all("networks", **params)
    if structured(args, networks):
        return 0
    table(
        ["ID", "NAME", "CLUSTER", "TYPE", "RANGE", "VNI", "LEASES"],
        [
            [
                n["id"],
                n["name"],
                n["provision"],
                n["kind"],
                n["address_range"] or "port forwarding",
                n["vni"] if n["vni"] is not None else "-",
                n["leases"],
            ]
            for n in networks
        ],
    )
    return 0


def cmd_show(client, args):
    network = client.resolve("networks", args.network, "network")
    if "lease_list" not in network:  # resolved by name: the list entry has no leases
        network = client.get(f"networks/{network['id']}/")
    if structured(args, network):
        return 0
    pairs = [
        ("ID", network["id"]),
        ("NAME", network["name"]),
        ("CLUSTER", network["provision"]),
        ("TYPE", network["kind"]),
    ]
    if network["kind"] == "private":
        pairs += [
            ("AR", network["address_range"]),
            ("VXLAN_VNI", network["vni"]),
            ("LEASES", network["leases"]),
        ]
    else:
        pairs.append(("MODEL", "port forwarding, 100 host ports per NIC"))
    properties(f"VIRTUAL NETWORK {network['id']} INFORMATION", pairs)
    if network["kind"] == "private":
        print()
        table(
            ["IP", "MAC", "VM", "NIC", "HOST"],
            [
                [
                    lease["ip"],
                    lease["mac"],
                    f"{lease['vm_id']} {lease['vm']}",
                    lease["nic"],
                    lease["host"] or "-",
                ]
                for lease in network["lease_list"]
            ],
        )
    return 0


def cmd_create(client, args):
    body = {"provision": args.provision, "name": args.name}
    if args.range:
        body["address_range"] = args.range
    network = client.post("networks/", body)
    print(f"ID: {network['id']}")
    return 0


def cmd_delete(client, args):
    network = client.resolve("networks", args.network, "network")
    client.delete(f"networks/{network['id']}/")
    return 0


def build() -> Command:
    cli = Command("onevnet", __doc__)
    p = cli.verb("list", cmd_list, "list the clusters' networks", structured=True)
    p.add_argument("--kind", choices=["public", "private"])
    p = cli.verb("show", cmd_show, "a network and, for a private one, its leases", structured=True)
    p.add_argument("network", help="ID or name")
    p = cli.verb("create", cmd_create, "add a private network (VXLAN + BGP-EVPN) to a cluster")
    p.add_argument("provision", help="provision ID or name")
    p.add_argument("name")
    p.add_argument("--range", help="private IPv4 CIDR (default: the next free /24)")
    p = cli.verb("delete", cmd_delete, "delete a private network no live VM uses")
    p.add_argument("network", help="ID or name")
    return cli


def main(argv=None) -> int:
    return build().main(argv)


if __name__ == "__main__":
    sys.exit(main())
