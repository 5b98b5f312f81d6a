"""The simulator's cloud firewalls, enforced on its lab hosts (lab.hosts.cloudfw).

A firewall covers the droplets in its `droplet_ids` and those carrying one of its `tags`, so
what a host must let in changes when a firewall is created, replaced, deleted or given
droplets, tags or rules, and when a droplet is created, tagged, untagged or deleted. Rather
than follow each of those, the server calls `sync()` after every request that may change
state (and when a lab host has booted): it works out each lab host's rules from the cloud as it
now is and applies those that changed, before the request is answered, so a client that got
its 200 finds the port open or closed. (DigitalOcean takes a few seconds; the lab none.)

Sources given as droplet IDs or tags are resolved to those droplets' addresses, as
DigitalOcean does; load balancers and Kubernetes clusters do not exist here and match nothing.
"""

import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from lab.hosts.cloudfw import InboundRule

PARALLEL_HOSTS = 8


def covers(firewall: dict, droplet: dict) -> bool:
    return droplet["id"] in firewall["droplet_ids"] or bool(
        set(firewall["tags"]) & set(droplet["tags"])
    )


def _addresses(cloud, sources: dict) -> tuple[str, ...]:
    found = list(sources.get("addresses") or [])
    for droplet in cloud.droplets.values():
        ids = droplet["id"] in (sources.get("droplet_ids") or [])
        tags = set(sources.get("tags") or []) & set(droplet["tags"])
        if ids or tags:
            found += [droplet["_public_ip"], droplet["_private_ip"]]
    return tuple(found)


def inbound_rules(cloud, droplet: dict) -> list[InboundRule] | None:
    """What the droplet lets in: the union of its firewalls' inbound rules; None when no
    firewall covers it (everything). Called under the cloud's lock."""
    firewalls = [f for f in cloud.firewalls.values() if covers(f, droplet)]
    if not firewalls:
        return None
    return [
        InboundRule(rule["protocol"], rule["ports"], _addresses(cloud, rule["sources"]))
        for firewall in firewalls
        for rule in firewall["inbound_rules"]
    ]


class LabFirewalls:
    def __init__(self, cloud, lab_hosts):
        self.cloud = cloud
        self.lab_hosts = lab_hosts
        # One sync at a time: each works out the rules from the cloud as it is when it starts,
        # so the last to run applies the latest state, never an older one after a newer one.
        self.lock = threading.Lock()
        self.applied: dict[int, list[InboundRule]] = {}  # droplet id -> the rules last applied

    def forget(self, droplet_id: int) -> None:
        """A host (re)made from scratch: it has no firewall yet, whatever was applied before."""
        with self.lock:
            self.applied.pop(int(droplet_id), None)

    def reset(self) -> None:
        with self.lock:
            self.applied.clear()

    def sync(self) -> None:
        with self.lock:
            with self.cloud.lock:
                wanted = {
                    droplet_id: inbound_rules(self.cloud, self.cloud.droplets[droplet_id])
                    for droplet_id in self.cloud.booted
                    if droplet_id in self.cloud.droplets
                }
            for droplet_id in set(self.applied) - set(wanted):
                del self.applied[droplet_id]
            changed = {
                droplet_id: rules
                for droplet_id, rules in wanted.items()
                # A new host has no firewall: the same as `None`, nothing to do.
                if self.applied.get(droplet_id) != rules
            }
            if not changed:
                return
            with ThreadPoolExecutor(max_workers=PARALLEL_HOSTS) as pool:
                for droplet_id, ok in pool.map(self._apply, changed.items()):
                    if ok:
                        self.applied[droplet_id] = changed[droplet_id]

    def _apply(self, item) -> tuple[int, bool]:
        droplet_id, rules = item
        try:
            self.lab_hosts.apply_firewall(droplet_id, rules)
        except Exception as exc:  # noqa: BLE001 - the host may be going; retried next sync
            sys.stderr.write(f"docsim: {exc}\n")
            return droplet_id, False
        return droplet_id, True
