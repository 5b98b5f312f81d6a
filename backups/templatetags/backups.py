"""The VM page's backup part, without the VM views knowing about backups."""

from django import template

from backups import schedules
from backups.choices import BackupState

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
