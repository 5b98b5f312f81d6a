"""Finding the provisions and providers a user may see or change."""

from core.lookup import find, is_id
from core.tenancy import check_change
from providers.models import Provider
from provisions.choices import ProvisionState
from provisions.models import Provision


def changeable(user, provision: Provision) -> Provision:
    """`provision` if the user may change it; 404 (as if it did not exist) otherwise."""
    check_change(user, provision)
    return provision


def find_provision(user, ref) -> Provision:
    """A provision the user may see (not deleted), by ID or name."""
    visible = Provision.objects.for_user(user).exclude(state=ProvisionState.DONE)
    return find(visible, str(ref).strip(), "provision")


def visible_provider(user, ref: str) -> Provider | None:
    """The provider `ref` (ID or name) among the user's own and the shared ones; None if not
    (another tenant's provider is not found either)."""
    visible = Provider.objects.for_user(user)
    return (visible.filter(pk=int(ref)) if is_id(ref) else visible.filter(name=ref)).first()


def some_names(names, shown: int = 5) -> str:
    """The first few names of a query for an error message ('a, b, c…'), '' when none."""
    first = list(names[: shown + 1])
    return ", ".join(first[:shown]) + ("…" if len(first) > shown else "")
