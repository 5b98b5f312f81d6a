"""The VM page's backup part, without the VM views knowing about backups."""

from django import template

from backups import schedules
from backups.choices import BackupState
from provisions.choices import ProvisionState
from provisions.models import Provision

register = template.Library()

SHOWN = 20


@register.simple_tag
def vm_backups(vm):
    """The VM's latest backups, newest first (with their store)."""
    listed = vm.backups.exclude(state=BackupState.DELETING).select_related("store")
    return list(listed.order_by("-id")[:SHOWN])


@register.simple_tag
def vm_backup_schedule(vm):
    """The schedule the VM follows (its own, else its template's), or None."""
    return schedules.schedule_of(vm)


@register.simple_tag
def restore_targets(user):
    """The clusters a user may restore a VM into (`--as NEW --provision P`)."""
    return list(
        Provision.objects.for_user(user)
        .filter(state=ProvisionState.RUNNING)
        .order_by("name")
        .values_list("name", flat=True)
    )
