"""Provision operations: the only code that creates provisions, changes their state or starts
their jobs. Pages, API, admin actions and jobs call these, by the names below.

- `create`: a new provision, from the form's fields or from a provision template, and what
  its droplets will cost
- `lifecycle`: the job row every operation starts, retry, configure, repair, delete
- `hosts`: a host added to or removed from a RUNNING provision
- `private_networks`: private networks added to or deleted from a RUNNING cluster
- `lookup`: the provisions and providers a user may see or change
- `policy`: a provision's placement policy, checked and changed
"""

from provisions.services.create import (
    choose_size_and_image,
    create_from_template,
    create_provision,
    estimate_cost,
    resolve_template,
    template_provider,
)
from provisions.services.hosts import add_host, fence, remove_host
from provisions.services.lifecycle import (
    configure_provision,
    delete_provision,
    enqueue_job,
    force_delete,
    needs_repair,
    repair_provision,
    retry_provision,
    start_job,
)
from provisions.services.lookup import changeable, find_provision, visible_provider
from provisions.services.policy import check_policy, set_placement_policy
from provisions.services.private_networks import create_network, delete_network

__all__ = [
    "add_host",
    "changeable",
    "check_policy",
    "choose_size_and_image",
    "configure_provision",
    "create_from_template",
    "create_network",
    "create_provision",
    "delete_network",
    "delete_provision",
    "enqueue_job",
    "estimate_cost",
    "find_provision",
    "force_delete",
    "needs_repair",
    "remove_host",
    "fence",
    "repair_provision",
    "resolve_template",
    "retry_provision",
    "set_placement_policy",
    "start_job",
    "template_provider",
    "visible_provider",
]
