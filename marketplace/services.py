"""Export: a marketplace app becomes an Image in an image datastore and a VM template, together."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from core import outbound
from core.groups import group_for_new
from core.ids import is_id
from core.names import check_name
from core.tenancy import CHANGE
from marketplace.choices import AppState
from marketplace.models import MarketplaceApp
from provisions.choices import DatastoreKind, ProvisionState
from provisions.models import Datastore
from vms import services as vm_services
from vms import staging
from vms.models import Image, VMTemplate


def find_app(ref) -> MarketplaceApp:
    apps = MarketplaceApp.objects.select_related("marketplace")
    found = apps.filter(pk=int(ref)) if is_id(ref) else apps.filter(name=ref)
    found = list(found)
    if not found:
        raise ValidationError({"app": f"marketplace app {ref!r} not found"})
    ready = [a for a in found if a.state == AppState.READY]
    if len(ready) > 1:
        raise ValidationError({"app": f"app name {ref!r} is in several marketplaces; use its ID"})
    return (ready or found)[0]


def find_datastore(user, ref) -> Datastore:
    visible = Datastore.objects.filter(provision__in=_user_provisions(user)).select_related(
        "provision"
    )
    found = visible.filter(pk=int(ref)) if is_id(ref) else visible.filter(name=ref)
    datastore = found.first()
    if datastore is None:
        raise ValidationError({"datastore": f"datastore {ref!r} not found"})
    return datastore


def _user_provisions(user):
    from provisions.models import Provision

    # Exporting writes an image into the cluster's datastore: a change to the cluster.
    return Provision.objects.for_user(user, CHANGE).exclude(state=ProvisionState.DONE)


def export_app(user, app_ref, name: str, datastore_ref, group=None) -> tuple[Image, VMTemplate]:
    app = find_app(app_ref)
    group = group_for_new(user, group)
    name = check_name(name, "name")
    datastore = find_datastore(user, datastore_ref)
    if app.state != AppState.READY or not app.sha256:
        raise ValidationError(
            {
                "app": (
                    f"app {app.name!r} has no verified image yet (marketplace "
                    f"{app.marketplace.name} not synced); sync the marketplace first"
                )
            }
        )
    if datastore.kind != DatastoreKind.IMAGE:
        raise ValidationError(
            {
                "datastore": (
                    f"datastore {datastore.name} is a {datastore.kind} datastore; export to an "
                    f"image datastore such as {datastore.provision.name}-image"
                )
            }
        )
    try:
        # Checked again here: the app's URL may predate the check, or have been set in the ORM.
        outbound.check_url(app.image_url)
    except outbound.URLRefused as exc:
        raise ValidationError(
            {"app": f"app {app.name!r}: image URL refused: {exc.message}"}
        ) from None
    template = app.template or {}
    # An app may ask for a privileged container (OpenNebula's LXC_UNPRIVILEGED = no): only an
    # operator's export makes such a template.
    unprivileged = vm_services.yes_no(template.get("LXC_UNPRIVILEGED", True))
    vm_services.check_privileged(user, unprivileged)
    try:
        with transaction.atomic():
            image = Image.objects.create(
                owner=user,
                group=group,
                name=name,
                datastore=datastore,
                app=app,
                url=app.image_url,
                sha256=app.sha256,
                size_bytes=app.size_bytes,
                os_id=app.os_id,
            )
            vm_template = VMTemplate.objects.create(
                owner=user,
                group=group,
                name=name,
                image=image,
                cpu=template.get("cpu", 1),
                memory_mb=template.get("memory_mb", 256),
                context={"hostname": True, "ssh_public_key": True},
                lxc_unprivileged=unprivileged,
            )
    except IntegrityError:
        raise ValidationError(
            {"name": f"you already have an image or template named {name!r}"}
        ) from None
    staging.stage(image)  # on the cluster's hosts, in the background, before its first VM
    return image, vm_template


__all__ = ["export_app", "find_app", "find_datastore"]
