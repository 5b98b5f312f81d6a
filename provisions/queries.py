"""Querysets shared by the pages and the API: counts and the latest job, in constant queries."""

from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce

from provisions import hooks
from provisions.choices import HostState
from provisions.models import Datastore, Host, Job, Network, Provision


def _count(model, **filters):
    sub = (
        model.objects.filter(provision=OuterRef("pk"), **filters)
        .order_by()
        .values("provision")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(sub, output_field=IntegerField()), 0)


def provisions_for(user):
    latest_job = Job.objects.filter(provision=OuterRef("pk")).order_by("-id").values("pk")[:1]
    return (
        Provision.objects.for_user(user)
        .select_related("provider", "owner", "group")
        .annotate(
            host_total=Coalesce(
                Subquery(
                    Host.objects.filter(provision=OuterRef("pk"))
                    .exclude(state=HostState.REMOVED)
                    .order_by()
                    .values("provision")
                    .annotate(n=Count("pk"))
                    .values("n"),
                    output_field=IntegerField(),
                ),
                0,
            ),
            network_total=_count(Network),
            datastore_total=_count(Datastore),
            latest_job_id=Subquery(latest_job),
        )
    )


def attach_latest_jobs(provisions) -> None:
    """One query for the latest job of every provision on a page."""
    ids = [p.latest_job_id for p in provisions if p.latest_job_id]
    jobs = Job.objects.in_bulk(ids)
    for provision in provisions:
        provision.latest_job = jobs.get(provision.latest_job_id)


def hosts_for(user):
    """Hosts of the provisions a user may see: the monitoring API's tenancy."""
    return Host.objects.filter(provision__in=Provision.objects.for_user(user))


def detail_prefetch():
    # The running VMs of each host are counted through the reverse relation (vms' rows, read
    # by name: provisions never imports vms); "RUNNING" is vms.choices.VMState.RUNNING.
    hosts = Host.objects.exclude(state=HostState.REMOVED).annotate(
        vm_running_total=Count("vms", filter=Q(vms__state="RUNNING"))
    )
    return [
        Prefetch("hosts", queryset=hosts),
        "networks",
        "datastores",
        "resources",
    ]


def attach_capacity(hosts) -> list:
    """Each host's `capacity` (what vms reports through hooks.host_capacity: per dimension
    its total, what VMs reserve and what is free; None when no app reports it)."""
    hosts = list(hosts)
    found = {}
    for result in hooks.host_capacity(hosts):
        found.update(result)
    for host in hosts:
        host.capacity = found.get(host.pk)
    return hosts
