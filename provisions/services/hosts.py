"""A RUNNING provision grows and shrinks by one host at a time, each through its own job; a
lost host is fenced by one before its VMs are recovered elsewhere."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404

from core import quotas
from provisions.choices import HostState, JobKind, ProvisionState
from provisions.models import Host, Job, Provision
from provisions.services.droplet_needs import droplet_needs
from provisions.services.lifecycle import start_job
from provisions.services.lookup import changeable, some_names


def add_host(user, provision: Provision) -> Job:
    changeable(user, provision)
    if provision.state != ProvisionState.RUNNING:
        raise ValidationError(
            f"provision {provision.name} is {provision.state}; hosts can be "
            "added to a RUNNING provision"
        )
    if provision.hosts.exclude(state=HostState.REMOVED).count() >= settings.PROVISION_MAX_HOSTS:
        raise ValidationError(f"a provision has at most {settings.PROVISION_MAX_HOSTS} hosts")
    needs = droplet_needs(provision.provider, provision.size, 1)
    with transaction.atomic():
        quotas.reserve(provision.owner, provision.group, needs, what="a new host")
        # Removed hosts keep their rows, so the count never reuses a name.
        index = provision.hosts.count()
        host = Host.objects.create(provision=provision, name=f"{provision.name}-host-{index}")
        Provision.objects.filter(pk=provision.pk).update(host_count=provision.host_count + 1)
        job = start_job(provision, JobKind.ADD_HOST, user, host=host.pk)
    return job


def remove_host(user, provision: Provision, host: Host) -> Job:
    changeable(user, provision)
    if host.provision_id != provision.pk:
        raise Http404(f"host {host.pk} not found")
    if provision.state != ProvisionState.RUNNING:
        raise ValidationError(
            f"provision {provision.name} is {provision.state}; hosts can be "
            "removed from a RUNNING provision"
        )
    if provision.hosts.exclude(state=HostState.REMOVED).count() <= 1:
        raise ValidationError("cannot remove the last host; delete the provision instead")
    # VM states are vms' vocabulary, which provisions cannot import: "DONE" is VMState.DONE.
    running = some_names(host.vms.exclude(state="DONE").values_list("name", flat=True))
    if running:
        raise ValidationError(f"host {host.name} still runs VM(s) {running}; terminate them first")
    return start_job(provision, JobKind.REMOVE_HOST, user, host=host.pk)


def fence(provision: Provision, host: Host, user=None, reason: str = "", at_cycle: int = 0) -> Job:
    """Fence a lost host (provisions/runs/fence.py), then recover its VMs elsewhere: monitoring
    asks for it once the host was ERROR for HOST_RECOVERY_CYCLES cycles, an operator may ask
    at once. ValidationError while the provision has another job running (it waits)."""
    if host.provision_id != provision.pk or host.state != HostState.ERROR:
        raise ValidationError(
            f"host {host.name} is {host.state}: only a host in ERROR (lost) is fenced"
        )
    # at_cycle: the host's error cycles when this try began (monitoring spaces out retries).
    job = start_job(provision, JobKind.FENCE, user, host=host.pk, at_cycle=at_cycle)
    if reason:
        job.note(reason)
    return job
