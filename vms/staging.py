"""Images staged on a cluster's hosts before any VM needs them.

A host's first VM of an image pays for the image: a download of tens of MB, its checksum and
its unpacking (seconds), where a VM of an image the host already has only mounts an overlay
(a fraction of a second). Staging moves that work out of the user's wait: when an image is
exported to a cluster's datastore, and when a host joins the cluster, a background task runs
image-prepare.sh on the hosts, which does exactly what a first deploy would. It is an
optimisation only and never holds anything up: a deploy that comes first fetches the image
itself (or waits for the staging's transfer under the image's lock on the host), and a staging
that fails (host down, worker lost) is logged and left for the next deploy to make good.
"""

import logging
import time

from django.conf import settings

from jobs.queue import enqueue_on_commit
from provisions.choices import HostState
from provisions.models import Host
from provisions.progress import in_parallel
from vms import lxc
from vms.models import Image

log = logging.getLogger(__name__)


def stage(image: Image, hosts=None) -> None:
    """Stage `image` on `hosts` (default: every RUNNING host of its datastore's cluster) once
    the current transaction commits; nothing where settings.IMAGE_STAGING is off."""
    if not settings.IMAGE_STAGING:
        return
    if hosts is None:
        hosts = Host.objects.filter(provision=image.datastore.provision_id)
    host_ids = [h.pk for h in hosts if h.state == HostState.RUNNING]
    if not host_ids:
        return
    enqueue_on_commit(
        "vms.staging.stage_image",
        image.pk,
        host_ids,
        task_name=f"stage-image-{image.pk}-{'-'.join(map(str, host_ids))}",
        robust=True,  # a broker that cannot take it is logged: never the export's or job's error
    )


def stage_images_of(provision, hosts) -> None:
    """Every image in the cluster's datastores staged on `hosts` (hosts that just joined)."""
    for image in Image.objects.filter(datastore__provision=provision).select_related("datastore"):
        stage(image, hosts)


def stage_image(image_id: int, host_ids: list[int]) -> dict[str, str]:
    """The task: image-prepare.sh on each host still RUNNING, all at once. Returns each host's
    outcome (for the task's result and the tests); never raises for one host's failure."""
    image = Image.objects.filter(pk=image_id).first()
    if image is None:
        return {}
    hosts = Host.objects.filter(pk__in=host_ids, state=HostState.RUNNING).select_related(
        "provision"
    )

    def one(host: Host) -> tuple[str, str]:
        started = time.monotonic()
        try:
            fetched = lxc.prepare_image(host, image)
        except lxc.LXCError as exc:
            log.warning("staging image %s on %s failed: %s", image.name, host.name, exc)
            return host.name, f"failed: {exc}"
        if not fetched:
            return host.name, "had it"
        seconds = time.monotonic() - started
        log.info("image %s staged on %s in %.1f s", image.name, host.name, seconds)
        return host.name, "staged"

    return dict(in_parallel(one, hosts))
