"""The provision jobs' runs, one module per job: deploy, delete, remove a host, fence a lost one.

`base` holds what they share: the Run loop, the ledger helpers, private networking.
"""

from provisions.runs.base import Run, StepFailed
from provisions.runs.delete import DeleteRun
from provisions.runs.deploy import DeployRun
from provisions.runs.fence import FenceRun
from provisions.runs.firewall import FirewallRun
from provisions.runs.remove_host import RemoveHostRun

__all__ = [
    "DeleteRun",
    "DeployRun",
    "FenceRun",
    "FirewallRun",
    "RemoveHostRun",
    "Run",
    "StepFailed",
]
