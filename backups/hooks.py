"""backups' side of vms.jobhooks and monitoring.cyclehooks: its job actions, the disk of a VM
restored as a new one, and the scheduled backups started each monitoring cycle (registered in
ready())."""

from backups import runs, schedules
from monitoring import cyclehooks
from vms import jobhooks


def register() -> None:
    jobhooks.actions.register("backup", runs.run_backup)
    jobhooks.actions.register("restore", runs.run_restore)
    jobhooks.actions.register("backup-delete", runs.run_delete)
    jobhooks.disk_source.register(runs.restored_disk)
    jobhooks.deployed.register(runs.restore_done)
    cyclehooks.cycle_ended.register(schedules.cycle_ended)
