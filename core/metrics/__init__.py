"""Prometheus metrics of the whole deployment, whatever process or machine did the work.

Recording (`count_digitalocean_response`, `count_ssh_failure`, `observe_job_duration`) adds
to counters kept in the database (core.models.MetricCounter), buffered per process and
written every METRICS_FLUSH_SECONDS; /metrics (portal.health) reads them back together with
state gauges counted from the database at scrape time. Why not prometheus_client's
multiprocess directory: workers run on other machines than the web processes, and a directory
is shared by one machine only.
"""

from core.metrics.recording import (
    count_digitalocean_response,
    count_ssh_failure,
    digitalocean_path,
    observe_job_duration,
)
from core.metrics.store import flush

__all__ = [
    "count_digitalocean_response",
    "count_ssh_failure",
    "digitalocean_path",
    "flush",
    "observe_job_duration",
]
