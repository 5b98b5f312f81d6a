"""Private networks (VXLAN segments) added to and deleted from a RUNNING cluster; a deploy job
then brings every host's devices and bridges in line."""

import logging

from django.core.exceptions import ValidationError
from django.db import transaction

from provisions import networks
from provisions.choices import JobKind, NetworkKind, ProvisionState
from provisions.models import Job, Network, Provision
from provisions.services.lifecycle import start_job
from provisions.services.lookup import changeable, some_names

log = logging.getLogger(__name__)


def create_network(user, provision: Provision, *, name: str, address_range: str | None = None):
    """Another private network (VXLAN segment) on a RUNNING cluster; a deploy job then gives
    every host its VXLAN device and bridge."""
    changeable(user, provision)
    if provision.state != ProvisionState.RUNNING:
        raise ValidationError(
            f"provision {provision.name} is {provision.state}; networks can be "
            "added to a RUNNING provision"
        )
    with transaction.atomic():
        network = networks.new_private_network(provision, name, address_range)
        start_job(provision, JobKind.DEPLOY, user, network=network.pk)
    log.info("network %s (%s) created on provision %s", network.pk, name, provision.pk)
    return network


def delete_network(user, network: Network) -> Job:
    """Remove a private network: refused while a live VM has a NIC on it; the hosts then drop
    its VXLAN device and bridge (evpn.sh removes every segment no longer listed)."""
    provision = network.provision
    changeable(user, provision)
    if network.kind != NetworkKind.PRIVATE:
        raise ValidationError(
            f"{network.name} is the cluster's public network; it goes with the provision"
        )
    if provision.state != ProvisionState.RUNNING:
        raise ValidationError(
            f"provision {provision.name} is {provision.state}; networks can be "
            "deleted from a RUNNING provision"
        )
    # VM states are vms' vocabulary, which provisions cannot import: "DONE" is VMState.DONE.
    users = some_names(network.nics.exclude(vm__state="DONE").values_list("vm__name", flat=True))
    if users:
        raise ValidationError(
            f"network {network.name} is used by VM(s) {users}; "
            "terminate them or wait for them to end first"
        )
    with transaction.atomic():
        Network.objects.filter(pk=network.pk).delete()  # leases of ended VMs go with it
        job = start_job(provision, JobKind.DEPLOY, user, deleted_network=network.name)
    log.info("network %s (%s) deleted from provision %s", network.pk, network.name, provision.pk)
    return job
