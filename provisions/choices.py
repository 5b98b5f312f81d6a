"""Provision, host and job vocabularies, with their groups and badge colours."""

from django.db import models


class ProvisionState(models.TextChoices):
    PENDING = "PENDING"
    DEPLOYING = "DEPLOYING"
    CONFIGURING = "CONFIGURING"
    RUNNING = "RUNNING"
    ERROR = "ERROR"
    DELETING = "DELETING"
    DONE = "DONE"


PROVISION_ACTIVE = {
    ProvisionState.PENDING,
    ProvisionState.DEPLOYING,
    ProvisionState.CONFIGURING,
    ProvisionState.DELETING,
}
PROVISION_TERMINAL = {ProvisionState.RUNNING, ProvisionState.ERROR, ProvisionState.DONE}
PROVISION_COLOURS = {
    ProvisionState.PENDING: "grey",
    ProvisionState.DEPLOYING: "blue",
    ProvisionState.CONFIGURING: "blue",
    ProvisionState.RUNNING: "green",
    ProvisionState.ERROR: "red",
    ProvisionState.DELETING: "blue",
    ProvisionState.DONE: "grey",
}


class PlacementPolicy(models.TextChoices):
    """How instantiate picks a host among those with room (OpenNebula's scheduler policies)."""

    PACKING = "packing", "packing: the fullest host that fits first"
    STRIPING = "striping", "striping: spread, the host with most free memory first"
    LOAD_AWARE = "load-aware", "load-aware: the host with the lowest monitored CPU load first"


class HostState(models.TextChoices):
    INIT = "INIT"
    CONFIGURING = "CONFIGURING"
    RUNNING = "RUNNING"
    ERROR = "ERROR"
    REMOVING = "REMOVING"
    REMOVED = "REMOVED"


HOST_COLOURS = {
    HostState.INIT: "grey",
    HostState.CONFIGURING: "blue",
    HostState.RUNNING: "green",
    HostState.ERROR: "red",
    HostState.REMOVING: "blue",
    HostState.REMOVED: "grey",
}


class HostProblem(models.TextChoices):
    """Why a host is in ERROR. Monitoring sets and clears the first three by itself; a host
    whose droplet is gone needs a Repair, one whose configuration failed a retry; a host that
    rebooted gets a Repair from monitoring itself (monitoring/reboot.py)."""

    NONE = "", "none"
    UNREACHABLE = "unreachable", "host does not answer SSH"
    DROPLET_GONE = "droplet_gone", "droplet deleted outside the portal"
    DROPLET_OFF = "droplet_off", "droplet off"
    REBOOTED = "rebooted", "droplet rebooted: set-up and VMs being restored"
    FENCED = "fenced", "lost, and fenced: droplet powered off or destroyed, its VMs recovered"


# Problems monitoring may clear when it sees the host healthy again.
SELF_HEALING = {HostProblem.UNREACHABLE, HostProblem.DROPLET_OFF}


class JobKind(models.TextChoices):
    DEPLOY = "deploy"
    DELETE = "delete"
    ADD_HOST = "add_host"
    REMOVE_HOST = "remove_host"
    REPAIR = "repair"
    # Reconciles the cloud firewall with the defaults + security groups (secgroups.rules).
    FIREWALL = "firewall"
    # A lost host's droplet powered off (or destroyed) so its VMs can never run twice
    # (provisions/runs/fence.py); its VMs are recovered elsewhere once it succeeded.
    FENCE = "fence"


class ResourceKind(models.TextChoices):
    SSH_KEY = "ssh_key", "SSH key"
    VPC = "vpc", "VPC"
    DROPLET = "droplet", "Droplet"
    FIREWALL = "firewall", "Firewall"


class ResourceState(models.TextChoices):
    # PLANNED is written before the create call, so a crash in between is found and adopted.
    PLANNED = "PLANNED"
    CREATED = "CREATED"
    DELETED = "DELETED"


class NetworkKind(models.TextChoices):
    PUBLIC = "public", "Public (port forwarding)"
    PRIVATE = "private", "Private (VXLAN + BGP-EVPN)"


class DatastoreKind(models.TextChoices):
    IMAGE = "image"
    SYSTEM = "system"
