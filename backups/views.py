"""The backup pages: the VM page's backup forms (back up now, restore here or as a new VM,
delete; each confirmed on the page) and the backup stores page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from backups import recovery, schedules, services, stores
from backups.forms import StoreForm
from backups.models import BackupStore
from core.pages import acted
from core.tenancy import for_change
from vms.choices import RecoveryPolicy
from vms.models import VM


def _vm(request, pk) -> VM:
    return for_change(VM.objects, request.user, pk)


@login_required
@require_POST
def backup_create(request, pk):
    vm = _vm(request, pk)
    return acted(
        request,
        vm,
        lambda: services.backup(request.user, vm),
        lambda done: f"Backup {done.pk} started: the VM is frozen only while its disk is copied.",
    )


@login_required
@require_POST
def backup_restore(request, pk, backup):
    vm = _vm(request, pk)
    return acted(
        request,
        vm,
        lambda: services.restore(request.user, vm, str(backup)),
        lambda done: (
            f"Restoring backup {done.pk}: the VM is stopped, its disk replaced and started again."
        ),
    )


@login_required
@require_POST
def backup_restore_as(request, pk, backup):
    vm = _vm(request, pk)
    return acted(
        request,
        vm,
        lambda: services.restore_as(
            request.user,
            vm,
            str(backup),
            request.POST.get("name", ""),
            request.POST.get("provision") or None,
        ),
        lambda done: f"VM {done.name} is being restored from the backup.",
        to=lambda done: done,
    )


@login_required
@require_POST
def backup_delete(request, pk, backup):
    vm = _vm(request, pk)
    return acted(
        request,
        vm,
        lambda: services.delete(request.user, vm, str(backup)),
        lambda done: f"Backup {done.pk} is being deleted from the store.",
    )


@login_required
@require_POST
def backup_schedule(request, pk):
    vm = _vm(request, pk)
    if request.POST.get("off"):
        schedules.clear(request.user, vm)
        messages.success(request, f"{vm.name} has no backup schedule of its own any more.")
        return redirect(vm)
    spec = {key: request.POST.get(key, "") for key in schedules.SPEC_FIELDS}
    return acted(
        request,
        vm,
        lambda: schedules.set_schedule(request.user, vm, spec),
        "Backup schedule set: the VM is backed up by itself from now on.",
    )


@login_required
@require_POST
def recovery_policy(request, pk):
    vm = _vm(request, pk)
    policy = request.POST.get("policy", "")
    if policy not in [*RecoveryPolicy.values, ""]:
        messages.error(request, f"recovery policy {policy!r}: use restore, recreate or none")
    else:
        VM.objects.filter(pk=vm.pk).update(recovery_policy=policy)
        messages.success(request, f"{vm.name}'s recovery policy set.")
    return redirect(vm)


@login_required
@require_POST
def recover(request, pk):
    vm = get_object_or_404(VM.objects.for_user(request.user), pk=pk)
    operation = request.POST.get("operation", "")
    return acted(
        request,
        vm,
        lambda: recovery.operate(request.user, vm, operation),
        f"recover --{operation} done.",
    )


@login_required
def store_list(request):
    form = StoreForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        data["provider"] = data["provider"].pk if data["provider"] else None
        try:
            store = stores.create(request.user, data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, f"Backup store {store.name} checked and saved.")
            return redirect("backups:stores")
    listed = BackupStore.objects.for_user(request.user).select_related("provider")
    return render(request, "backups/stores.html", {"stores": listed, "form": form})


@login_required
@require_POST
def store_delete(request, pk):
    store = for_change(BackupStore.objects, request.user, pk)
    try:
        stores.delete(request.user, store)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Backup store {store.name} deleted.")
    return redirect("backups:stores")
