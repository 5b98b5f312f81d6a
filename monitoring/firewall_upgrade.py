"""Firewalls deployed before the portal recorded its rules, brought to the portal's rules once.

Provisions deployed before security groups have a firewall ledger row with no `applied`
rules: the earliest of them have DigitalOcean's allow-all firewall (BGP and VXLAN open to the
internet), later ones the defaults of that time. Without a record the drift check cannot tell
a rule someone changed in DigitalOcean from one the portal never set, so such firewalls were
never reported, and nothing corrected them until a security group changed.

The monitor reports drift and leaves its repair to people; this is not drift but the portal's
own rules (defaults + groups) never having been applied. So for a RUNNING provision the check
starts the firewall job (provisions.runs.firewall) once: it PUTs the rules and records them in
`applied`, and from then on a difference is ordinary drift, reported only. A provision in
ERROR gets the finding and the Repair it offers does the same. A firewall that already holds
the portal's rules just gets them recorded.
"""

import logging

from django.core.exceptions import ValidationError

from jobs.states import JobState
from provisions import firewall_rules, services
from provisions.choices import JobKind, ProvisionState
from provisions.models import CloudResource, Provision
from provisions.secgroups import rules as secgroups

log = logging.getLogger(__name__)

CHANGE = "monitor: firewall from before the portal recorded its rules"


def check(provision: Provision, row: CloudResource, cloud: dict) -> list[str]:
    """Findings for a firewall row without `applied`; starts the firewall job when due."""
    try:
        wanted = secgroups.desired(provision).as_api()
    except firewall_rules.UnknownVPCRange as exc:
        return [f"Firewall {row.name} has rules the portal never recorded; {exc}"]
    if secgroups.keys(cloud) == secgroups.keys(wanted):
        CloudResource.objects.filter(pk=row.pk).update(data={**row.data, "applied": wanted})
        return []
    finding = (
        f"Firewall {row.name} has rules from before the portal's least-privilege defaults "
        f"(needed: {secgroups.difference(cloud, wanted)})"
    )
    return [f"{finding}; {_upgrade(provision, row)}"]


def _upgrade(provision: Provision, row: CloudResource) -> str:
    if provision.state != ProvisionState.RUNNING:
        return "Repair applies the portal's rules"
    jobs = provision.jobs.filter(kind=JobKind.FIREWALL, options__change=CHANGE)
    failed = jobs.filter(state=JobState.FAILED).order_by("-id").first()
    if failed is not None:
        # Once only: a job that failed is not started again every cycle.
        return f"firewall job #{failed.pk} failed to apply the portal's rules: {failed.error}"
    try:
        job = services.start_job(provision, JobKind.FIREWALL, None, change=CHANGE)
    except ValidationError:
        return "a job started meanwhile; checked again next cycle"
    log.info(
        "firewall %s of provision %s: job %s applies the portal's rules",
        row.name,
        provision.pk,
        job.pk,
    )
    return f"firewall job #{job.pk} started to apply the portal's rules"
