"""What /metrics shows, computed when Prometheus asks: state gauges counted in the database
(jobs, VMs, provisions, hosts, workers: the truth for every process at once, at a handful of
GROUP BY queries per scrape) and the counters the processes wrote (core.metrics.store)."""

import logging
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Sum
from django.utils import timezone
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

from core.metrics import recording

log = logging.getLogger(__name__)


class PortalCollector(Collector):
    def collect(self):
        yield from self._jobs()
        yield from self._states()
        yield from self._workers()
        yield from self._queue()
        yield from self._counters()

    def _jobs(self):
        from provisions.models import Job
        from vms.models import VMJob

        jobs = GaugeMetricFamily(
            "edge_jobs", "Jobs by target, kind and state.", labels=["target", "kind", "state"]
        )
        takeovers = CounterMetricFamily(
            "edge_job_takeovers",
            "Times a job was taken over from a worker that stopped renewing its lease.",
            labels=["target"],
        )
        for target, model, kind_field in (("provision", Job, "kind"), ("vm", VMJob, "action")):
            rows = model.objects.order_by().values(kind_field, "state").annotate(n=Count("pk"))
            for row in rows:
                jobs.add_metric([target, row[kind_field], row["state"]], row["n"])
            total = model.objects.aggregate(n=Sum("takeovers"))["n"] or 0
            takeovers.add_metric([target], total)
        yield jobs
        yield takeovers

    def _states(self):
        from provisions.models import Host, Provision
        from vms.models import VM

        for name, model, what in (
            ("edge_vms", VM, "VMs"),
            ("edge_provisions", Provision, "Provisions (edge clusters)"),
            ("edge_hosts", Host, "Hosts (droplets)"),
        ):
            family = GaugeMetricFamily(name, f"{what} by state.", labels=["state"])
            for row in model.objects.order_by().values("state").annotate(n=Count("pk")):
                family.add_metric([row["state"]], row["n"])
            yield family

    def _workers(self):
        from monitoring.models import WorkerHeartbeat

        since = timezone.now() - timedelta(seconds=settings.READY_WORKER_SECONDS)
        family = GaugeMetricFamily(
            "edge_workers_alive",
            f"Job workers seen in the last {settings.READY_WORKER_SECONDS:g} s.",
        )
        family.add_metric([], WorkerHeartbeat.objects.filter(seen_at__gte=since).count())
        yield family

    def _queue(self):
        from django_q.brokers import get_broker

        try:
            size = get_broker().queue_size()
        except Exception as exc:  # a broker away is /readyz's news; the rest still shows
            log.warning("broker queue size unknown: %s", exc)
            return
        family = GaugeMetricFamily("edge_queue_tasks", "Tasks waiting in the job broker.")
        family.add_metric([], size or 0)
        yield family

    def _counters(self):
        from core.models import MetricCounter

        rows = list(MetricCounter.objects.values_list("name", "labels", "value"))
        yield _counter(
            rows,
            recording.DIGITALOCEAN_REQUESTS,
            "Answers from DigitalOcean's API by method, path and status (429: rate limited).",
            ["method", "path", "status"],
        )
        yield _counter(
            rows,
            recording.SSH_FAILURES,
            "SSH connections to hosts that failed, by reason.",
            ["reason"],
        )
        yield _histogram(rows)


def _counter(rows, name, documentation, labels):
    family = CounterMetricFamily(name, documentation, labels=labels)
    for row_name, row_labels, value in rows:
        if row_name == name:
            family.add_metric([str(row_labels.get(label, "")) for label in labels], value)
    return family


def _histogram(rows):
    labels = ["target", "kind", "outcome"]
    family = HistogramMetricFamily(
        recording.JOB_DURATION,
        "Run time of jobs, from their worker's claim to their end.",
        labels=labels,
    )
    buckets = defaultdict(lambda: defaultdict(float))
    sums = defaultdict(float)
    for name, row_labels, value in rows:
        key = tuple(str(row_labels.get(label, "")) for label in labels)
        if name == recording.JOB_DURATION + "_bucket":
            buckets[key][row_labels["le"]] += value
        elif name == recording.JOB_DURATION + "_sum":
            sums[key] += value
    for key in sorted(set(buckets) | set(sums)):
        cumulative, pairs = 0.0, []
        for bound in recording.JOB_DURATION_BUCKETS:
            le = recording.le_text(bound)
            cumulative += buckets[key].get(le, 0.0)
            pairs.append((le, cumulative))
        family.add_metric(list(key), pairs, sums[key])
    return family


__all__ = ["PortalCollector"]
