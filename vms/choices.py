from django.db import models


class VMState(models.TextChoices):
    PENDING = "PENDING"
    PROLOG = "PROLOG"
    BOOT = "BOOT"
    RUNNING = "RUNNING"
    POWEROFF = "POWEROFF"
    # Monitoring cannot tell: the container is gone or its host does not answer.
    UNKNOWN = "UNKNOWN"
    FAILURE = "FAILURE"
    DONE = "DONE"


class RecoveryPolicy(models.TextChoices):
    """What becomes of a VM whose host was lost and fenced (backups/recovery.py)."""

    RESTORE = "restore", "restore from its latest backup on another host"
    RECREATE = "recreate", "recreate from its image on another host (its data lost)"
    NONE = "none", "nothing: it stays UNKNOWN for its owner or an operator"


VM_ACTIVE = {VMState.PENDING, VMState.PROLOG, VMState.BOOT}
# The states monitoring may move between: a VM in any other state has a job working on it or
# has ended, and monitoring leaves it alone.
VM_MONITORED = {VMState.RUNNING, VMState.POWEROFF, VMState.UNKNOWN}
VM_COLOURS = {
    VMState.PENDING: "grey",
    VMState.PROLOG: "blue",
    VMState.BOOT: "blue",
    VMState.RUNNING: "green",
    VMState.POWEROFF: "grey",
    VMState.UNKNOWN: "orange",
    VMState.FAILURE: "red",
    VMState.DONE: "grey",
}

# The document: a public NIC gets EXTERNAL_PORT_RANGE 9001:9100 and INTERNAL_PORT_RANGE
# 1-100/9001, the next one 9101:9200, and so on; internal port p is reachable at base - 1 + p.
PORT_BASE = 9001
PORTS_PER_NIC = 100
MAX_BLOCKS_PER_HOST = 500  # 9001..59000

DISK_MB_MAX = 16 * 1048576  # a VM's disk, at most 16 TB: far above any droplet's
