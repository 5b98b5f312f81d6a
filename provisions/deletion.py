"""What a delete checks before it starts: the cluster's live VMs (refused unless the user asked
for cleanup, as OpenNebula's `oneprovision delete` without `--cleanup`), and, for a forced
delete, that nothing of the provision is left in DigitalOcean."""

from hostexec.keys import md5_fingerprint
from providers.drivers import NotFound
from provisions import hooks
from provisions.models import Provision

NAMED = 5  # live VMs a refusal names before "and N more"


def live_vms_refusal(provision: Provision) -> str:
    """Why deleting without cleanup is refused ('' when the cluster has no live VM): the first
    few VMs by name, then how many more."""
    total = sum(hooks.cluster_vm_count(provision))
    if not total:
        return ""
    names = [name for found in hooks.cluster_vm_names(provision, NAMED) for name in found]
    listed = ", ".join(names[:NAMED])
    if total > len(names[:NAMED]):
        listed += f" and {total - len(names[:NAMED])} more"
    return (
        f"provision {provision.name} still has {total} live VM(s): {listed}; terminate them "
        "first, or delete with cleanup (oneprovision delete --cleanup) to terminate them too"
    )


def cloud_leftovers(provision: Provision, driver) -> list[str]:
    """Everything tagged or named for the provision still in DigitalOcean: the same listing as
    the delete job's last step (provisions/runs/delete.py `step_verify`), so a forced delete
    proves the same thing the job would have proved before marking the provision DONE."""
    left = [f"droplet {d['name']}" for d in driver.droplets(tag=provision.tag)]
    left += [f"firewall {f['name']}" for f in driver.firewalls() if f["name"] == provision.tag]
    left += [f"VPC {v['name']}" for v in driver.vpcs() if v["name"] == provision.tag]
    try:
        # By fingerprint, not by listing the account's keys (10 listings a minute).
        key = driver.ssh_key(md5_fingerprint(provision.ssh_public_key))
        left.append(f"SSH key {key['name']}")
    except NotFound:
        pass
    return left
