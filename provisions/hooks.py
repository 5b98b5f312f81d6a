"""What provisions needs from the apps built on it, registered by those apps.

Dependencies run one way: vms builds on provisions (and marketplace on vms), so provisions
never imports them (tests/provisions/test_dependencies.py checks). Where provisions has to act
on or count their objects, it calls a hook declared here; each app registers its callables in
its `AppConfig.ready()` (vms: `vms/apps.py`). Calling a hook calls every registered callable in
order and returns their results as a list, so a hook nobody registered returns `[]` and
provisions still works on its own.

    hooks.end_cluster_vms.register(end_with_cluster)   # vms, in VmsConfig.ready()
    ended = sum(hooks.end_cluster_vms(provision, log))  # provisions, in DeleteRun.step_vms

Where provisions only reads another app's rows through a reverse relation (`network.leases`),
it uses the relation through the ORM instead of a hook.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, ParamSpec, TypeVar

if TYPE_CHECKING:
    from provisions.models import Provision

P = ParamSpec("P")
R = TypeVar("R")

Log = Callable[..., None]  # JobRecorder.log: log(message, level="info")


class Hook(Generic[P, R]):
    """A named extension point: the callables other apps registered, called in order."""

    def __init__(self, name: str, doc: str):
        self.name = name
        self.__doc__ = doc
        self._callables: list[Callable[P, R]] = []

    def register(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Add `fn`; registering the same callable again is a no-op. Usable as a decorator."""
        if fn not in self._callables:
            self._callables.append(fn)
        return fn

    @property
    def callables(self) -> tuple[Callable[P, R], ...]:
        return tuple(self._callables)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> list[R]:
        return [fn(*args, **kwargs) for fn in self._callables]

    def __repr__(self) -> str:
        return f"<Hook {self.name}: {len(self._callables)} registered>"


end_cluster_vms: "Hook[[Provision, Log], int]" = Hook(
    "end_cluster_vms",
    """end_cluster_vms(provision, log) -> int: before a cluster's droplets are deleted, end
    the VMs on its hosts (containers, ports, addresses) and return how many ended. Log lines go
    through `log`, the delete job's recorder.""",
)

cluster_vm_count: "Hook[[Provision], int]" = Hook(
    "cluster_vm_count",
    """cluster_vm_count(provision) -> int: how many VMs on the cluster's hosts have not ended
    (what deleting the provision would terminate). One query.""",
)

cluster_vm_names: "Hook[[Provision, int], list[str]]" = Hook(
    "cluster_vm_names",
    """cluster_vm_names(provision, limit) -> list[str]: the names of at most `limit` VMs on
    the cluster's hosts that have not ended, oldest first (what a delete without cleanup is
    refused over). One query.""",
)

hosts_joined: "Hook[[Provision, list], None]" = Hook(
    "hosts_joined",
    """hosts_joined(provision, hosts): hosts have just been configured (RUNNING) by a deploy
    or scale-out job; work for them may start in the background (vms stages the cluster's
    images on them). Must not block the job, nor fail it.""",
)

host_capacity: "Hook[[list], dict]" = Hook(
    "host_capacity",
    """host_capacity(hosts) -> {host id: [{dimension, unit, total, reserved, free}, ...]}: each
    host's capacity (CPU, memory...) and what its VMs reserve, for the hosts table of pages,
    API and CLI. A constant number of queries whatever the number of hosts.""",
)

host_fenced: "Hook[[Provision, object, Log], int]" = Hook(
    "host_fenced",
    """host_fenced(provision, host, log) -> int: a lost host's droplet has just been fenced
    (powered off, destroyed, or found gone): none of its VMs can run there any more, so they
    may be recovered elsewhere. Returns how many recoveries started.""",
)
