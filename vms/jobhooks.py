"""What VM jobs let the apps built on vms do (backups), without vms importing them: run their
own job actions under the VMJob lease, and give a VM being deployed its disk.

    jobhooks.actions.register("backup", run_backup)   # backups, in BackupsConfig.ready()
    jobhooks.disk_source.register(fetch_restored)     # called before a VM's deploy script
    jobhooks.deployed.register(restore_done)          # called once a deploy made it RUNNING
"""

from collections.abc import Callable

from provisions.hooks import Hook

# action -> runner(vm, job, lease, log) returning the job's outcome ("failed" fails it).
Runner = Callable[..., str]


class Actions:
    """The VM job actions other apps run (vms/jobs.py dispatches to them)."""

    def __init__(self):
        self._runners: dict[str, Runner] = {}

    def register(self, action: str, runner: Runner) -> None:
        self._runners[action] = runner

    def get(self, action: str) -> Runner | None:
        return self._runners.get(action)

    def __contains__(self, action: str) -> bool:
        return action in self._runners


actions = Actions()

disk_source = Hook(
    "disk_source",
    "disk_source(vm, log) -> str: before a VM's container is created on its host, the path "
    "there of a disk made ready for it (a restored backup), or '' for a new empty disk.",
)

deployed = Hook(
    "deployed",
    "deployed(vm): a deploy job has just made the VM RUNNING on its host.",
)
