"""Images staged on a cluster's hosts for real (vms/staging.py, image-prepare.sh): an export
fetches and unpacks the image on every RUNNING host, so the first VM of it on a host only
mounts its overlay ("IMAGE cached", no download in its log); a host added later gets the
cluster's images as part of joining; and staging again changes nothing."""

import pytest

from marketplace import services as market
from marketplace import sync
from marketplace.models import Marketplace
from provisions import services as provisions
from tests.factories import make_provider
from tests.lab.helpers import on_host
from vms import services as vms
from vms import staging

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]
ROOT_ID = 600100001  # the lab hosts' id map (host configuration's default range)


def staged(provision, host, image) -> bool:
    base = '"$ONE_EDGE_BASE/images"'
    listing = on_host(provision, host, f"ls {base} {base}/rootfs")
    return f"{image.sha256}.tar" in listing and f"{image.sha256}-{ROOT_ID}" in listing


def vm_log(vm) -> str:
    return "\n".join(vm.log.values_list("message", flat=True))


def test_an_exported_image_is_on_every_host_before_its_first_vm(lab_world, owner, settings):
    settings.IMAGE_STAGING = True  # jobs and the staging run inline here (JOBS_SYNC)
    provider = make_provider(owner, name="lab", token="lab-token")
    provision = provisions.create_provision(owner, provider=provider, name="stg", host_count=1)
    provision.refresh_from_db()
    assert provision.state == "RUNNING", provision.error
    first = provision.hosts.get()

    sync.sync(Marketplace.objects.get(name="Edge Lab"))
    image, _ = market.export_app(owner, lab_world["image"].name, "Alpine", "stg-image")
    assert staged(provision, first, image)

    vm = vms.instantiate(owner, "Alpine", name="first", nics=["stg-public"])
    vm.refresh_from_db()
    assert vm.state == "RUNNING", vm.failure_reason or vm_log(vm)
    assert "IMAGE cached" in vm_log(vm) and "downloaded" not in vm_log(vm), vm_log(vm)
    assert "ROOTFS overlay on the prepared image" in vm_log(vm)

    # A host that joins is given the cluster's images by its add-host job.
    provisions.add_host(owner, provision)
    provision.refresh_from_db()
    second = provision.hosts.exclude(pk=first.pk).get()
    assert second.state == "RUNNING", provision.error
    assert staged(provision, second, image)

    # Staged already: found and left alone, on both hosts.
    outcome = staging.stage_image(image.pk, [first.pk, second.pk])
    assert outcome == {first.name: "had it", second.name: "had it"}

    provisions.delete_provision(owner, provision, cleanup=True)
