"""What the portal counts, with labels of bounded cardinality (no IDs, names or addresses)."""

import math
from urllib.parse import urlsplit

from prometheus_client.utils import floatToGoString

from core.metrics import store

DIGITALOCEAN_REQUESTS = "edge_digitalocean_requests"
SSH_FAILURES = "edge_ssh_failures"
JOB_DURATION = "edge_job_duration_seconds"
# Jobs take seconds (a VM deploy) to an hour (a large provision behind rate limits).
JOB_DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, math.inf)

# The collection words of DigitalOcean's v2 API paths; any other segment is an ID, a
# fingerprint or a tag name and becomes `{id}`, so one series stands for all of them.
RESOURCE_WORDS = frozenset(
    "account actions backups droplets firewalls images keys kernels members neighbors "
    "regions resources rules sizes snapshots tags volumes vpcs".split()
)


def digitalocean_path(url_or_path: str) -> str:
    """The path of a DigitalOcean URL with its IDs as `{id}`:
    `https://api.digitalocean.com/v2/droplets/42/actions?page=2` -> `/v2/droplets/{id}/actions`."""
    parts = [p for p in urlsplit(str(url_or_path)).path.split("/") if p]
    if parts and parts[0] == "v2":
        parts = parts[1:]
    return "/v2/" + "/".join(p if p in RESOURCE_WORDS else "{id}" for p in parts)


def count_digitalocean_response(method: str, path: str, status: int | str | None) -> None:
    """One answer from DigitalOcean (or none: `status` None, a connection error). 429s are
    `status="429"`."""
    store.add(
        DIGITALOCEAN_REQUESTS,
        {
            "method": (method or "unknown").upper()[:10],
            "path": digitalocean_path(path)[:120],
            "status": str(status) if status is not None else "error",
        },
    )


def count_ssh_failure(reason: str) -> None:
    """An SSH connection to a host that failed (`reason`: unreachable, host_key_mismatch,
    auth_failed, connection_lost)."""
    store.add(SSH_FAILURES, {"reason": reason})


def observe_job_duration(target: str, kind: str, outcome: str, seconds: float) -> None:
    """A job's run time (from its worker's claim to its end), for a histogram: `target`
    provision or vm, `kind` deploy/delete/... , `outcome` its final state."""
    labels = {"target": target, "kind": kind, "outcome": outcome}
    bucket = next(b for b in JOB_DURATION_BUCKETS if seconds <= b)
    # One bucket per observation here; /metrics makes them cumulative as Prometheus wants.
    store.add(JOB_DURATION + "_bucket", {**labels, "le": le_text(bucket)})
    store.add(JOB_DURATION + "_sum", labels, max(0.0, seconds))


def le_text(bound: float) -> str:
    """A bucket's bound as prometheus_client writes its own (`1.0`, `+Inf`)."""
    return floatToGoString(bound)
