"""vms' side of provisions.hooks: what provisions needs from vms (registered in ready())."""

from provisions import hooks
from vms import capacity, placement, recovery, services, staging


def cluster_vm_count(provision) -> int:
    return services.in_cluster(provision).count()


def cluster_vm_names(provision, limit: int) -> list[str]:
    alive = services.in_cluster(provision)
    return list(alive.order_by("id").values_list("name", flat=True)[:limit])


def register() -> None:
    hooks.end_cluster_vms.register(services.end_with_cluster)
    hooks.cluster_vm_count.register(cluster_vm_count)
    hooks.cluster_vm_names.register(cluster_vm_names)
    hooks.hosts_joined.register(staging.stage_images_of)
    hooks.hosts_joined.register(recovery.clear_strays)
    hooks.hosts_joined.register(recovery.restart_vms_on)
    hooks.hosts_joined.register(placement.place_pending_safely)
    hooks.host_capacity.register(capacity.host_capacity)
