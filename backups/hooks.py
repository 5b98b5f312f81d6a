"""backups' side of vms.jobhooks, monitoring.cyclehooks and provisions.hooks: its job actions,
the disk of a VM restored as a new one, the scheduled backups started each monitoring cycle,
and the recovery of a fenced host's VMs (registered in ready())."""

from backups import quota_counters, recovery, runs, schedules
from monitoring import cyclehooks
from provisions import hooks as provision_hooks
from vms import jobhooks


def register() -> None:
    jobhooks.actions.register("backup", runs.run_backup)
    jobhooks.actions.register("restore", runs.run_restore)
    jobhooks.actions.register("backup-delete", runs.run_delete)
    jobhooks.disk_source.register(runs.restored_disk)
    jobhooks.deployed.register(runs.restore_done)
    cyclehooks.cycle_ended.register(schedules.cycle_ended)
    provision_hooks.host_fenced.register(recovery.recover_vms_of)
    quota_counters.register()
