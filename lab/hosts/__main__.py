"""`python -m lab.hosts list | destroy ID | destroy-all` (operators of the lab, as root)."""

import argparse
import sys

from lab.hosts import LabHosts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.hosts")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list")
    destroy = sub.add_parser("destroy")
    destroy.add_argument("droplet_id", type=int)
    sub.add_parser("destroy-all")
    args = parser.parse_args(argv)
    hosts = LabHosts()
    if args.command == "list":
        for host in hosts.list():
            print(
                f"{host['droplet_id']:>10} {host['name']:<24} {host['public_ip']:<15} "
                f"{host['private_ip']:<15} {host['host_key_fingerprint']}"
            )
    elif args.command == "destroy":
        hosts.destroy(args.droplet_id)
    else:
        hosts.destroy_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
