"""A provision's placement policy: how instantiate picks among the hosts with room
(vms/placement.py carries it out). Set at create time, changeable at any time; it applies to
the next placement."""

from django.core.exceptions import ValidationError

from core.names import shown
from provisions.choices import PlacementPolicy, ProvisionState
from provisions.models import Provision
from provisions.services.lookup import changeable


def check_policy(value, field: str = "placement_policy") -> str:
    """`value` as a policy name ("" or None: the default, striping); a ValidationError keyed
    by `field` listing the policies otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return PlacementPolicy.STRIPING
    clean = value.strip().lower() if isinstance(value, str) else value
    if clean not in PlacementPolicy.values:
        raise ValidationError(
            {
                field: f"{shown(value)} is not a placement policy; use one of "
                f"{', '.join(PlacementPolicy.values)}"
            }
        )
    return clean


def set_placement_policy(user, provision: Provision, value) -> Provision:
    """Change how the provision's next VMs are placed (VMs already placed stay where they are)."""
    changeable(user, provision)
    if provision.state == ProvisionState.DONE:
        raise ValidationError(f"provision {provision.name} is deleted (DONE)")
    policy = check_policy(value)
    Provision.objects.filter(pk=provision.pk).update(placement_policy=policy)
    provision.placement_policy = policy
    return provision
