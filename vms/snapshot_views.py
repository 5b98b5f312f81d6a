"""The VM page's snapshot forms: take one, revert to one, delete one (each confirmed on the
page). The work is the snapshot job's; the page shows its progress in the VM's log."""

from django.contrib.auth.decorators import login_required
from django.views.decorators.http import require_POST

from core.pages import acted
from core.tenancy import for_change
from vms import snapshots
from vms.models import VM


def _vm(request, pk) -> VM:
    return for_change(VM.objects, request.user, pk)


@login_required
@require_POST
def snapshot_create(request, pk):
    vm = _vm(request, pk)
    name = request.POST.get("name", "").strip() or None
    return acted(
        request,
        vm,
        lambda: snapshots.create(request.user, vm, name),
        lambda done: f"Snapshot {done.name} is being taken: the VM is frozen only for the copy.",
    )


@login_required
@require_POST
def snapshot_revert(request, pk, snapshot):
    vm = _vm(request, pk)
    return acted(
        request,
        vm,
        lambda: snapshots.revert(request.user, vm, str(snapshot)),
        lambda done: (
            f"Reverting to snapshot {done.name}: the VM is stopped, its disk replaced "
            "and started again."
        ),
    )


@login_required
@require_POST
def snapshot_delete(request, pk, snapshot):
    vm = _vm(request, pk)
    return acted(
        request,
        vm,
        lambda: snapshots.delete(request.user, vm, str(snapshot)),
        lambda done: f"Snapshot {done.name} is being deleted.",
    )
