"""Backups of VMs (OpenNebula's `onevm backup`) and restores from them: the operations pages,
API and CLI call. The host side runs in VM jobs (backups/runs.py), so a backup or restore is
leased like every VM job and taken over when its worker dies.

Where a VM's backups go: the store bound to its cluster's provider, else its owner's default
store (backups.models.BackupStore).
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404

from backups import stores
from backups.choices import BackupState
from backups.models import BackupStore, PendingRestore, VMBackup, repository_key
from core import quotas
from core.lookup import find, is_id
from core.names import check_name
from core.tenancy import CHANGE, check_change
from provisions.choices import ProvisionState
from provisions.models import Provision
from vms import disks, placement
from vms.choices import VMState
from vms.jobstart import start_job, vm_log
from vms.models import VM, PortBlock
from vms.services import create_vm

NO_STORE = (
    "no backup store for VM {vm}: set one up first (onebackupstore create, or the Backups page)"
)


def store_for(vm: VM) -> BackupStore:
    """The store a VM's next backup goes to; ValidationError when there is none."""
    provider_id = vm.host.provision.provider_id if vm.host_id else None
    store = BackupStore.objects.filter(provider_id=provider_id).first() if provider_id else None
    if store is None:
        store = BackupStore.objects.filter(owner=vm.owner, provider=None).first()
    if store is None:
        raise ValidationError(NO_STORE.format(vm=vm.name))
    return store


def manifest(vm: VM) -> dict:
    """What a backup records of the VM beyond its disk: enough to make it again anywhere."""
    nics = []
    for nic in vm.nics.select_related("network").order_by("index"):
        block = PortBlock.objects.filter(nic=nic).first()
        nics.append(
            {
                "index": nic.index,
                "network": nic.network.name if nic.network else "",
                "kind": nic.network.kind if nic.network else "",
                "ip": nic.ip,
                "mac": nic.mac,
                "first_port": block.first_port if block else None,
            }
        )
    provision = vm.host.provision if vm.host_id else None
    return {
        "name": vm.name,
        "template": vm.template.name if vm.template else "",
        "image": {"name": vm.image.name, "sha256": vm.image.sha256, "url": vm.image.url},
        "cpu": str(vm.cpu),
        "cpu_quota": str(vm.cpu_quota) if vm.cpu_quota else None,
        "memory_mb": vm.memory_mb,
        "disk_mb": vm.disk_mb,
        "provision": provision.name if provision else "",
        "host": vm.host.name if vm.host_id else "",
        "nics": nics,
        "security_groups": (
            list(provision.security_groups.values_list("name", flat=True)) if provision else []
        ),
    }


def backup(user, vm: VM, scheduled: bool = False, keep: str = "") -> VMBackup:
    """Start a backup of the VM now (its job freezes the VM for the copy and uploads it).
    `keep`: restic's forget options its job applies after it (a schedule's retention)."""
    with transaction.atomic():
        vm = disks.locked_for_disk_work(
            user, vm, needs="a backup needs it RUNNING or POWEROFF", without_disk=": no backup"
        )
        store = store_for(vm)
        # A backup's size is known once restic has written it: refused when the stores
        # already hold the quota's worth.
        quotas.reserve(vm.owner, vm.group, {"backup_mb": 0}, what="a new backup")
        taken = VMBackup.objects.create(
            vm=vm,
            store=store,
            repository_key=_repository_of(vm, store),
            scheduled=scheduled,
            manifest=manifest(vm),
            disk_mb=vm.disk_mb,
            requested_by="schedule" if scheduled else str(user),
        )
        vm_log(vm, f"backup {taken.pk} to store {store.name} requested by {taken.requested_by}")
        start_job(vm, "backup", backup=taken.pk, **({"keep": keep} if keep else {}))
    return taken


def _repository_of(vm: VM, store: BackupStore) -> str:
    """The VM's repository in `store`: the one its earlier backups there went to (a restored
    VM goes on in its own), else a new one."""
    earlier = vm.backups.filter(store=store).order_by("-id").first()
    return earlier.repository_key if earlier else repository_key(vm)


def listed(user, vm: VM):
    """The VM's backups, newest first (Http404 for a VM the user may not see)."""
    if not VM.objects.for_user(user).filter(pk=vm.pk).exists():
        raise Http404("VM not found")
    return vm.backups.exclude(state=BackupState.DELETING).order_by("-id")


def backup_of(vm: VM, ref) -> VMBackup:
    """A READY backup of the VM by its ID (the portal's) or restic snapshot's short ID."""
    ready = vm.backups.filter(state=BackupState.READY)
    ref = str(ref).strip()
    found = ready.filter(pk=int(ref)) if is_id(ref) else ready.filter(snapshot_id__startswith=ref)
    found = list(found[:2]) if ref else []
    if len(found) != 1:
        raise ValidationError(
            {"backup": f"VM {vm.name} has no complete backup {ref!r}: see onevm backup-list"}
        )
    return found[0]


def restore(user, vm: VM, ref) -> VMBackup:
    """Restore the VM in place: stopped, its disk replaced by the backup's (checked against
    the store's checksums), started again if it was running. What it wrote since is lost."""
    with transaction.atomic():
        vm = disks.locked_for_disk_work(
            user, vm, needs="a restore in place needs it RUNNING or POWEROFF"
        )
        chosen = backup_of(vm, ref)
        vm_log(vm, f"restore of backup {chosen.pk} ({chosen.short_id}) in place by {user}")
        start_job(vm, "restore", backup=chosen.pk, start=vm.state == VMState.RUNNING)
    return chosen


def restore_as(user, vm: VM, ref, name: str, provision_ref=None) -> VM:
    """A new VM named `name` from one of `vm`'s backups, on a host of `provision_ref` (the
    backed-up VM's cluster by default): same sizes and image, its own addresses and ports."""
    check_change(user, vm)
    chosen = backup_of(vm, ref)
    name = check_name(name, kind="VM name")
    provision = _target(user, vm, provision_ref)
    networks = _networks_in(provision, chosen.manifest)
    image = _image_in(user, provision, vm)
    with transaction.atomic():
        new = create_vm(
            user,
            name=name,
            template=vm.template,
            image=image,
            cpu=vm.cpu,
            memory_mb=vm.memory_mb,
            disk_mb=chosen.disk_mb or vm.disk_mb,
            cpu_quota=vm.cpu_quota,
            networks=networks,
            provision=provision,
        )
        # Before its deploy job runs (enqueued when this transaction commits).
        PendingRestore.objects.create(vm=new, backup=chosen)
        vm_log(new, f"restored from backup {chosen.pk} ({chosen.short_id}) of VM {vm.name}")
    return new


def _target(user, vm: VM, provision_ref) -> Provision:
    if provision_ref in (None, ""):
        cluster = placement.cluster_of(vm)
        if cluster is None:
            raise ValidationError({"provision": "give the cluster to restore to (--provision)"})
    else:
        cluster = find(Provision.objects.for_user(user, CHANGE), provision_ref, "provision")
    if cluster.state != ProvisionState.RUNNING:
        raise ValidationError(
            {"provision": f"cluster {cluster.name} is {cluster.state}, not RUNNING"}
        )
    return cluster


def _networks_in(provision: Provision, recorded: dict) -> list:
    """The new VM's networks in `provision`: the public one if the backed-up VM had a public
    NIC, and each private network of the same name there."""
    networks = []
    for nic in recorded.get("nics", []):
        network = None
        if nic["kind"] == "public":
            network = provision.networks.filter(kind="public").first()
        elif nic["network"]:
            network = provision.networks.filter(name=nic["network"], kind="private").first()
        if network is not None:
            networks.append(network)
    if not networks:
        network = provision.networks.filter(kind="public").first()
        if network is None:
            raise ValidationError({"provision": f"cluster {provision.name} has no network"})
        networks.append(network)
    return networks


def _image_in(user, provision: Provision, vm: VM):
    """The VM's image as it is in `provision`'s datastore (the same file: same checksum)."""
    if vm.image.datastore.provision_id == provision.pk:
        return vm.image
    image = (
        type(vm.image)
        .objects.for_user(user)
        .filter(datastore__provision=provision, sha256=vm.image.sha256)
        .first()
    )
    if image is None:
        raise ValidationError(
            {
                "provision": f"cluster {provision.name} has no copy of image {vm.image.name}: "
                "export its app to that cluster first (onemarketapp export)"
            }
        )
    return image


def delete(user, vm: VM, ref) -> VMBackup:
    """Forget one backup: its snapshot is removed from the store by a job (restic forget)."""
    with transaction.atomic():
        check_change(user, vm)
        chosen = backup_of(vm, ref)
        if vm.host_id is None or vm.state not in disks.DISK_WORK_STATES:
            raise ValidationError(
                f"VM {vm.name} is {vm.state}: its host removes a backup from the store, so the "
                "VM must be RUNNING or POWEROFF"
            )
        VMBackup.objects.filter(pk=chosen.pk).update(state=BackupState.DELETING)
        vm_log(vm, f"backup {chosen.pk} ({chosen.short_id}) deletion by {user}")
        start_job(vm, "backup-delete", backup=chosen.pk)
    return chosen


def delete_all(user, vm: VM) -> int:
    """Forget every backup of the VM: its repositories removed from their stores through the
    S3 API, so this works for a VM whose host is gone or that has ended (its backups outlive
    it until deleted). Refused while one is being taken. How many backups went."""
    check_change(user, vm)
    with transaction.atomic():
        listed = list(vm.backups.select_for_update(of=("self",)).select_related("store"))
        if any(b.state == BackupState.CREATING for b in listed):
            raise ValidationError(f"VM {vm.name} has a backup being taken: try once it ends")
        VMBackup.objects.filter(pk__in=[b.pk for b in listed]).update(state=BackupState.DELETING)
    repositories = {(b.store, b.repository_key) for b in listed if b.store is not None}
    try:
        for store, key in repositories:
            stores.delete_repository(store, key)
    except ValidationError:
        for backup in listed:  # nothing was deleted: listed again as they were
            VMBackup.objects.filter(pk=backup.pk).update(state=backup.state)
        raise
    VMBackup.objects.filter(pk__in=[b.pk for b in listed]).delete()
    vm_log(vm, f"all {len(listed)} backup(s) deleted from the store by {user}")
    return len(listed)
