"""Container root filesystems in the lab: an image is unpacked once per host (id-shifted) and
every container of it runs on an overlay of its own over that prepared tree
(vms/hostscripts/rootfs.sh). What one container writes stays in its own layer; a stopped
container has no mount and gets it back when it starts (as after a reboot); a terminated one
takes its layer and its mount with it and leaves the shared tree to the others."""

import pytest

from tests.lab.helpers import (
    host_output,
    in_vm,
)
from vms import services as vm_services

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]

PREPARED = '"$ONE_EDGE_BASE/images/rootfs"'


def container_dir(vm) -> str:
    return f'"$ONE_EDGE_BASE/lxc/{vm.container_name}"'


def overlay_of(vm) -> dict:
    """The mount on the container's rootfs as the host sees it: fstype and options."""
    out = host_output(vm.host, f"findmnt -n -o FSTYPE,OPTIONS {container_dir(vm)}/rootfs || true")
    if not out.strip():
        return {}
    fstype, options = out.split()
    fields = dict(o.split("=", 1) if "=" in o else (o, "") for o in options.split(","))
    return {"fstype": fstype, **fields}


def log_of(vm) -> str:
    return "\n".join(vm.log.values_list("message", flat=True))


def test_containers_share_one_prepared_image_and_keep_their_own_writes(
    cluster_with_vms,  # noqa: F811 - the fixture imported above
    owner,
):
    provision, (first, second) = cluster_with_vms
    host = provision.hosts.get()

    # One prepared tree for the image, owned by the containers' mapped root; both containers
    # mount it read-only under a writable layer of their own.
    prepared = host_output(host, f"ls {PREPARED}").split()
    assert len(prepared) == 1 and prepared[0].endswith("-600100001"), prepared
    lower = host_output(host, f"echo {PREPARED}/{prepared[0]}").strip()
    assert host_output(host, f"stat -c %u:%g {lower}/bin").strip() == "600100001:600100001"
    mounts = [overlay_of(vm) for vm in (first, second)]
    assert [m.get("fstype") for m in mounts] == ["overlay", "overlay"], mounts
    assert mounts[0]["lowerdir"] == mounts[1]["lowerdir"] == lower
    assert mounts[0]["upperdir"] != mounts[1]["upperdir"]
    assert "ROOTFS prepared image" in log_of(first) and "ROOTFS overlay" in log_of(first)
    assert "ROOTFS prepared image" not in log_of(second), log_of(second)
    assert "TIMES image=" in log_of(second) and " rootfs=" in log_of(second)

    # A write in one container: in its own layer, owned by its mapped root; not in the other
    # container, not in the shared tree.
    assert in_vm(first, "echo mine > /root/only-here && cat /root/only-here").stdout == "mine\n"
    assert in_vm(second, "test -e /root/only-here; echo $?").stdout.strip() == "1"
    assert host_output(host, f"test -e {lower}/root/only-here; echo $?").strip() == "1"
    layer = f"{container_dir(first)}/disk/delta/root/only-here"  # on the VM's own disk
    assert host_output(host, f"stat -c %u {layer}").strip() == "600100001"

    # A stopped container has no overlay (LXC's post-stop hook took it away, as a reboot
    # would; its disk stays mounted); resume mounts it again over the same layer, and the
    # container's write is still there.
    vm_services.act(owner, first, "poweroff")
    first.refresh_from_db()
    assert first.state == "POWEROFF", first.failure_reason
    assert overlay_of(first) == {}
    vm_services.act(owner, first, "resume")
    first.refresh_from_db()
    assert first.state == "RUNNING", first.failure_reason
    assert overlay_of(first).get("fstype") == "overlay"
    assert in_vm(first, "cat /root/only-here").stdout == "mine\n"

    # Terminated: its mount and directory go; the shared tree and the other container stay.
    vm_services.act(owner, first, "terminate")
    first.refresh_from_db()
    assert first.state == "DONE", first.failure_reason
    assert host_output(host, f"test -e {container_dir(first)}; echo $?").strip() == "1"
    assert f"/{first.container_name}/" not in host_output(host, "cat /proc/self/mounts")
    assert host_output(host, f"ls {PREPARED}").split() == prepared
    assert in_vm(second, "echo alive").stdout.strip() == "alive"
