"""The portal's own settings, apart from Django's: DigitalOcean, provisioning, SSH, jobs,
monitoring, VMs and consoles, each read from the environment with its default here.
portal.settings imports them all; code reads them as django.conf.settings.NAME.
"""

from core.env import env_bool, env_float, env_int, env_networks, env_str

# DigitalOcean: the driver's endpoint is configuration (the lab points it at the simulator).
DIGITALOCEAN_API_URL = env_str("DIGITALOCEAN_API_URL", "https://api.digitalocean.com/v2/")
DIGITALOCEAN_TIMEOUT = (
    env_float("DIGITALOCEAN_CONNECT_TIMEOUT", 5.0),
    env_float("DIGITALOCEAN_READ_TIMEOUT", 30.0),
)
DIGITALOCEAN_RETRIES = env_int("DIGITALOCEAN_RETRIES", 5)
DIGITALOCEAN_BACKOFF = env_float("DIGITALOCEAN_BACKOFF", 0.5)
DIGITALOCEAN_MAX_RETRY_AFTER = env_float("DIGITALOCEAN_MAX_RETRY_AFTER", 60.0)
# Below this many requests left in the token's hour (ratelimit-remaining), the driver spreads
# the rest over the time to ratelimit-reset instead of running into 429s.
DIGITALOCEAN_PACE_BELOW = env_int("DIGITALOCEAN_PACE_BELOW", 50)
# How long the size and image lists a provision is checked against stay cached.
DIGITALOCEAN_CATALOG_TTL = env_int("DIGITALOCEAN_CATALOG_TTL", 3600)
# Every droplet the portal makes carries this tag besides its provision's own: monitoring lists
# them all in one call per token.
DIGITALOCEAN_PORTAL_TAG = env_str("DIGITALOCEAN_PORTAL_TAG", "edge-portal")

# Outbound URLs (marketplace indexes, images) never reach loopback, link-local (the cloud's
# metadata service), private or reserved addresses (core.outbound), except in these networks:
# CIDRs, e.g. the lab's image server `198.18.0.1/32`. Empty by default.
OUTBOUND_ALLOWED_NETWORKS = env_networks("OUTBOUND_ALLOWED_NETWORKS")

# Provisioning jobs.
# Images fetched and unpacked on a cluster's hosts when exported and when a host joins, so a
# host's first VM of an image does not wait for it (vms/staging.py).
IMAGE_STAGING = env_bool("IMAGE_STAGING", True)
PROVISION_MAX_HOSTS = env_int("PROVISION_MAX_HOSTS", 64)
PROVISION_BOOT_TIMEOUT = env_float("PROVISION_BOOT_TIMEOUT", 600.0)
PROVISION_POLL_INTERVAL = env_float("PROVISION_POLL_INTERVAL", 5.0)
PROVISION_SSH_WAIT = env_float("PROVISION_SSH_WAIT", 180.0)
PROVISION_DELETE_TIMEOUT = env_float("PROVISION_DELETE_TIMEOUT", 300.0)
# DigitalOcean releases a VPC's members minutes after their droplets are deleted; until then
# the VPC cannot be deleted. How long a delete keeps trying.
PROVISION_VPC_RELEASE_TIMEOUT = env_float("PROVISION_VPC_RELEASE_TIMEOUT", 900.0)
PROVISION_STEP_ATTEMPTS = env_int("PROVISION_STEP_ATTEMPTS", 4)

# Warm SSH (hostexec/ssh_pool.py): each process keeps one authenticated connection per host
# for VM work, with keep-alives every SSH_KEEPALIVE_SECONDS, dropped after SSH_POOL_IDLE_SECONDS
# unused; one unused for SSH_POOL_CHECK_SECONDS is checked with a channel open before reuse.
SSH_POOL_ENABLED = env_bool("SSH_POOL_ENABLED", True)
SSH_POOL_IDLE_SECONDS = env_float("SSH_POOL_IDLE_SECONDS", 300.0)
SSH_POOL_CHECK_SECONDS = env_float("SSH_POOL_CHECK_SECONDS", 3.0)
SSH_KEEPALIVE_SECONDS = env_int("SSH_KEEPALIVE_SECONDS", 15)

# Job leases (jobs.leases): a running job's worker renews its lease every heartbeat; a
# job whose lease expired is taken over and resumed by another worker.
JOB_LEASE_SECONDS = env_float("JOB_LEASE_SECONDS", 60.0)
JOB_HEARTBEAT_SECONDS = env_float("JOB_HEARTBEAT_SECONDS", 5.0)

# Health and metrics (portal.health, core.metrics): /readyz wants a worker seen within
# READY_WORKER_SECONDS (workers beat every min(MONITOR_INTERVAL, JOB_LEASE_SECONDS / 2));
# counters are written to the database every METRICS_FLUSH_SECONDS by each process (0: only
# when core.metrics.flush() is called, as tests do).
READY_WORKER_SECONDS = env_float("READY_WORKER_SECONDS", 90.0)
METRICS_FLUSH_SECONDS = env_float("METRICS_FLUSH_SECONDS", 1.0)

# Monitoring (monitoring/): one cycle every MONITOR_INTERVAL reads every host once over SSH and
# lists the portal's DigitalOcean objects once per token.
MONITOR_ENABLED = env_bool("MONITOR_ENABLED", True)
MONITOR_INTERVAL = env_float("MONITOR_INTERVAL", 30.0)
# Cycles in a row a host may fail to answer before it is ERROR and its VMs UNKNOWN.
MONITOR_HOST_FAILURES = env_int("MONITOR_HOST_FAILURES", 3)
MONITOR_SSH_TIMEOUT = env_float("MONITOR_SSH_TIMEOUT", 10.0)
MONITOR_RETENTION_HOURS = env_float("MONITOR_RETENTION_HOURS", 24.0)
# The share of a token's hourly DigitalOcean budget the drift check may spend, and the budget.
MONITOR_API_SHARE = env_float("MONITOR_API_SHARE", 0.10)
DIGITALOCEAN_HOURLY_LIMIT = env_int("DIGITALOCEAN_HOURLY_LIMIT", 5000)
# Below this many requests left in the token's window, the drift check waits for a later cycle.
MONITOR_API_RESERVE = env_int("MONITOR_API_RESERVE", 500)

# A lost host: after HOST_RECOVERY_CYCLES monitoring cycles in ERROR (0: never by itself) its
# droplet is fenced (HOST_FENCE_POLICY poweroff, or destroy) and then its VMs recovered on the
# cluster's other hosts by their recovery policy (backups/recovery.py).
HOST_RECOVERY_CYCLES = env_int("HOST_RECOVERY_CYCLES", 10)
HOST_FENCE_POLICY = env_str("HOST_FENCE_POLICY", "poweroff")

# Costs (costs/): every COST_BALANCE_INTERVAL seconds (0: never) after a monitoring cycle, each
# token's month-to-date usage at DigitalOcean is compared with the portal's own figure; a
# difference over COST_BALANCE_THRESHOLD dollars is shown to operators.
COST_BALANCE_INTERVAL = env_float("COST_BALANCE_INTERVAL", 3600.0)
COST_BALANCE_THRESHOLD = env_float("COST_BALANCE_THRESHOLD", 1.0)

# The audit log (audit/): entries older than this many days are deleted after a monitoring
# cycle (0: kept for ever).
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 365)

# VMs (LXC system containers).
# Quotas (core/quotas.py): the limits of a user or group whose own limit is empty. A user may
# have 20 VMs, 16 CPUs and 32 GB by default; groups have no limit until an operator sets one.
QUOTA_DEFAULTS = {
    "user": {
        "vms": env_int("VM_QUOTA_VMS", 20),
        "cpu": env_float("VM_QUOTA_CPU", 16.0),
        "memory_mb": env_int("VM_QUOTA_MEMORY_MB", 32768),
    },
    "group": {},
}
# A reservation taking a user or group to this share of a limit sends a quota warning.
QUOTA_WARN_PERCENT = env_int("QUOTA_WARN_PERCENT", 80)
VM_CPU_OVERCOMMIT = env_float("VM_CPU_OVERCOMMIT", 4.0)
# Isolation: containers are unprivileged, their root mapped to one subordinate id
# range per host (OpenNebula's 600100001-600165537); limits per container and for all of them.
VM_IDMAP_START = env_int("VM_IDMAP_START", 600100001)
VM_IDMAP_COUNT = env_int("VM_IDMAP_COUNT", 65536)
VM_PIDS_MAX_DEFAULT = env_int("VM_PIDS_MAX_DEFAULT", 2048)  # a template's pids_max when unset
VM_SWAP_MB_DEFAULT = env_int("VM_SWAP_MB_DEFAULT", 0)  # swap on top of the memory limit
VM_SNAPSHOTS_MAX = env_int("VM_SNAPSHOTS_MAX", 8)  # snapshots one VM may have
# A VM's disk (its writable layer's filesystem) when its template gives none, and the least a
# template may give (an ext4 filesystem and its journal need room of their own).
VM_DISK_MB_DEFAULT = env_int("VM_DISK_MB_DEFAULT", 2048)
VM_DISK_MB_MIN = env_int("VM_DISK_MB_MIN", 64)
# What placement keeps of a host's disk for the host itself (its images, logs, snapshots
# beyond their VMs' disks); VMs' disks together may take the rest.
HOST_RESERVED_DISK_MB = env_int("HOST_RESERVED_DISK_MB", 4096)
HOST_RESERVED_MEMORY_MB = env_int("HOST_RESERVED_MEMORY_MB", 256)  # at least, or a tenth
HOST_VMS_PIDS_MAX = env_int("HOST_VMS_PIDS_MAX", 32768)  # all containers of a host together

# Consoles (consoles/): a terminal in a VM (or, for operators, on a host) over a WebSocket.
# A session with no keystroke for CONSOLE_IDLE_SECONDS ends, any session ends after
# CONSOLE_MAX_SECONDS, and a user holds at most CONSOLE_MAX_PER_USER at once (counted in the
# database, so across every web process).
CONSOLE_IDLE_SECONDS = env_float("CONSOLE_IDLE_SECONDS", 900.0)
CONSOLE_MAX_SECONDS = env_float("CONSOLE_MAX_SECONDS", 4 * 3600.0)
CONSOLE_MAX_PER_USER = env_int("CONSOLE_MAX_PER_USER", 5)
# How often a session checks its VM is still RUNNING and marks itself alive; a session row not
# marked for 3 beats belongs to a process that died and no longer counts against the limit.
CONSOLE_BEAT_SECONDS = env_float("CONSOLE_BEAT_SECONDS", 5.0)

# Webhooks (webhooks/): each delivery is one POST with a short timeout, tried again after 1 min,
# 5 min, 30 min, 2 h, 6 h (then every 6 h) until WEBHOOK_MAX_ATTEMPTS tries, then FAILED.
# WEBHOOK_CA_BUNDLE: a CA file receivers' certificates are checked against instead of the
# system's (a private CA); empty: the system's. Deliveries are kept WEBHOOK_RETENTION_DAYS.
WEBHOOK_TIMEOUT = (
    env_float("WEBHOOK_CONNECT_TIMEOUT", 3.0),
    env_float("WEBHOOK_READ_TIMEOUT", 10.0),
)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 6)
WEBHOOK_CA_BUNDLE = env_str("WEBHOOK_CA_BUNDLE", "")
WEBHOOK_RETENTION_DAYS = env_int("WEBHOOK_RETENTION_DAYS", 30)
