"""`onevm disk-resize` and `onevm snapshot-create|list|revert|delete`: a VM's disk and its
snapshots (OpenNebula's system snapshot verbs)."""

import sys

from cli.client import CliError
from cli.output import table
from core.ids import is_id
from core.units import human_bytes, parse_size_mb


def _vm(client, ref):
    return client.resolve("vms", ref, "VM")


def cmd_disk_resize(client, args):
    try:
        size_mb = parse_size_mb(args.size)
    except ValueError as exc:
        print(f"onevm disk-resize: SIZE: {exc}", file=sys.stderr)
        return 2
    vm = _vm(client, args.vm)
    vm = client.post(f"vms/{vm['id']}/disk-resize/", {"size_mb": size_mb})
    print(f"VM {vm['name']}: disk {vm['disk_mb']}M")
    return 0


def cmd_snapshot_create(client, args):
    vm = _vm(client, args.vm)
    body = {"name": args.name} if args.name else {}
    snapshot = client.post(f"vms/{vm['id']}/snapshots/", body)
    print(f"SNAPSHOT ID: {snapshot['id']} ({snapshot['name']})")
    return 0


def cmd_snapshot_list(client, args):
    vm = _vm(client, args.vm)
    rows = [
        [
            s["id"],
            s["name"],
            s["state"],
            s["created_at"][:19].replace("T", " "),
            human_bytes(s["size_bytes"]),
            f"{s['disk_mb']}M",
            "-" if s["freeze_ms"] is None else f"{s['freeze_ms']} ms",
        ]
        for s in client.get(f"vms/{vm['id']}/snapshots/")
    ]
    table(["ID", "NAME", "STATE", "TIME", "SIZE", "DISK", "FROZEN"], rows)
    return 0


def _snapshot(client, vm, ref) -> dict:
    snapshots = client.get(f"vms/{vm['id']}/snapshots/")
    found = [s for s in snapshots if (is_id(ref) and s["id"] == int(ref)) or s["name"] == ref]
    if len(found) != 1:
        raise CliError(f"snapshot {ref!r} of VM {vm['name']} not found")
    return found[0]


def cmd_snapshot_revert(client, args):
    vm = _vm(client, args.vm)
    snapshot = _snapshot(client, vm, args.snapshot)
    client.post(f"vms/{vm['id']}/snapshots/{snapshot['id']}/revert/")
    print(f"VM {vm['name']}: reverting to snapshot {snapshot['name']}")
    return 0


def cmd_snapshot_delete(client, args):
    vm = _vm(client, args.vm)
    snapshot = _snapshot(client, vm, args.snapshot)
    client.delete(f"vms/{vm['id']}/snapshots/{snapshot['id']}/")
    return 0


def add_verbs(cli) -> None:
    p = cli.verb(
        "disk-resize", cmd_disk_resize, "grow the VM's disk (online while it runs; never shrinks)"
    )
    p.add_argument("vm", help="ID or name")
    p.add_argument("size", help="the new size: MB, or 512M, 20G")
    p = cli.verb("snapshot-create", cmd_snapshot_create, "take a snapshot of the VM's disk")
    p.add_argument("vm", help="ID or name")
    p.add_argument("name", nargs="?", help="the snapshot's name (default: snap-<date>-<time>)")
    p = cli.verb("snapshot-list", cmd_snapshot_list, "list the VM's snapshots")
    p.add_argument("vm", help="ID or name")
    p = cli.verb(
        "snapshot-revert",
        cmd_snapshot_revert,
        "stop the VM, put the snapshot's disk back and start it (later writes are lost)",
    )
    p.add_argument("vm", help="ID or name")
    p.add_argument("snapshot", help="snapshot ID or name")
    p = cli.verb("snapshot-delete", cmd_snapshot_delete, "delete one of the VM's snapshots")
    p.add_argument("vm", help="ID or name")
    p.add_argument("snapshot", help="snapshot ID or name")
