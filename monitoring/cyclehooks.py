"""What the apps built on monitoring do once per monitoring cycle, without monitoring importing
them: backups starts the scheduled backups that are due, recovery fences lost hosts and brings
their VMs back elsewhere. One worker runs the cycle (the `monitor` lease holder), so these run
once per cycle across all workers.

    cyclehooks.cycle_ended.register(run_due)   # backups, in BackupsConfig.ready()
"""

from provisions.hooks import Hook

cycle_ended = Hook(
    "cycle_ended",
    "cycle_ended(report): a monitoring cycle has applied what it found (host and VM states, "
    "drift). Each callable's failure is logged, never the cycle's.",
)
