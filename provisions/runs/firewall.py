"""FirewallRun: make the provision's cloud firewall hold exactly the portal's rules.

Idempotent: it reads the firewall, and PUTs the whole rule set (PUT replaces the rules) only
when it differs. The ledger row keeps the rules last applied, so a difference between the cloud
and those is someone else's change (the console, another tool): it is logged as such and
undone. A firewall gone from DigitalOcean is a Repair's job (it re-creates it with the rules).
"""

from provisions import firewall_rules
from provisions.choices import ResourceKind, ResourceState
from provisions.runs.base import Run, StepFailed
from provisions.secgroups import rules


class FirewallRun(Run):
    steps = ["firewall_rules"]

    def step_firewall_rules(self):
        p = self.provision
        row = self.ledger(ResourceKind.FIREWALL, p.tag)
        if row.state != ResourceState.CREATED:
            raise StepFailed("firewall_rules", f"provision {p.name} has no firewall yet")
        found = [f for f in self.driver.firewalls() if str(f["id"]) == row.cloud_id]
        if not found:
            raise StepFailed(
                "firewall_rules",
                f"firewall {p.tag} is gone from DigitalOcean; Repair re-creates it",
            )
        reconcile_rules(self, row, found[0])


def reconcile_rules(run: Run, row, cloud: dict) -> None:
    """PUT the portal's rules on `cloud` (the firewall as listed) if they differ; also the
    repair's firewall step, for rule drift monitoring found."""
    p = run.provision
    try:
        wanted = rules.desired(p).as_api()
    except firewall_rules.UnknownVPCRange as exc:
        raise StepFailed("firewall_rules", str(exc)) from exc
    # A deploy resumed after its create call adopts the firewall before recording its rules:
    # the portal made it with the rules it wants.
    applied = row.data.get("applied", wanted)
    if rules.keys(cloud) != rules.keys(applied):
        run.rec.log(
            "firewall rules changed outside the portal: "
            f"{rules.difference(applied, cloud)}; restored",
            "warning",
        )
    if rules.keys(cloud) == rules.keys(wanted):
        run.rec.log(f"firewall {p.tag} already has the portal's rules")
    else:
        run.driver.update_firewall(
            row.cloud_id,
            name=cloud["name"],
            tags=cloud.get("tags") or [p.tag],
            droplet_ids=cloud.get("droplet_ids") or [],
            **wanted,
        )
        if rules.keys(applied) != rules.keys(wanted):
            run.rec.log(f"firewall {p.tag} updated: {rules.difference(applied, wanted)}")
        else:
            run.rec.log(f"firewall {p.tag} rules put back")
    run.confirm(row, row.cloud_id, applied=wanted)
