"""Provision operations: the only code that creates provisions, changes their state or starts
their jobs. Pages, API, admin actions and jobs call these."""

import logging
import re

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from django_q.tasks import async_task

from core import crypto
from core.lookup import find, is_id
from core.names import shown
from core.tenancy import CHANGE
from hostexec.keys import generate_ed25519
from jobs import leases
from jobs.states import JOB_LIVE, JobState
from providers import offerings
from providers.drivers import CloudError
from providers.models import Provider
from providers.services import driver_for
from provisions import deletion, hooks, networks, template_format
from provisions.choices import (
    DatastoreKind,
    HostState,
    JobKind,
    NetworkKind,
    ProvisionState,
    ResourceState,
)
from provisions.models import (
    NAME_PATTERN,
    CloudResource,
    Cluster,
    Datastore,
    Host,
    Job,
    JobLogLine,
    Network,
    Provision,
    ProvisionEvent,
)

log = logging.getLogger(__name__)

IMAGE_INPUTS = template_format.HOST_INPUTS["image"]
SIZE_INPUTS = template_format.HOST_INPUTS["size"]
DEFAULT_IMAGE = "ubuntu-22-04-x64"
DEFAULT_SIZE = "s-1vcpu-2gb"


class InvalidTransition(ValidationError):
    pass


def transition(provision: Provision, to: str, expected: set[str], actor=None, reason=""):
    """Move a provision to `to` only if it is still in one of `expected` (one atomic UPDATE),
    and record the change."""
    with transaction.atomic():
        current = Provision.objects.filter(pk=provision.pk).values_list("state", flat=True).first()
        changed = Provision.objects.filter(pk=provision.pk, state__in=expected).update(
            state=to, updated_at=timezone.now()
        )
        if not changed:
            raise InvalidTransition(
                f"provision {provision.name} is {current}; cannot go to {to} from there"
            )
        ProvisionEvent.objects.create(
            provision=provision, actor=actor, from_state=current, to_state=to, reason=reason[:2000]
        )
    provision.state = to
    log.info("provision %s: %s -> %s (%s)", provision.pk, current, to, reason)


def _choose(provider: Provider, value: str | None, inputs, default: str, label: str) -> str:
    options = []
    for name in inputs:
        options = provider.input_options(name)
        if options:
            value = value or provider.input_default(name)
            break
    value = value or default
    if not isinstance(value, str) or not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,63}", value.strip()):
        raise ValidationError({label: f"{shown(value)} is not a DigitalOcean {label} slug"})
    value = value.strip()
    if options and value not in options:
        raise ValidationError(
            {
                label: f"{value!r} is not offered by provider {provider.name}; "
                f"choose one of {', '.join(map(str, options))}"
            }
        )
    # The portal's defaults exist in every region; anything else a user typed is checked with
    # DigitalOcean now rather than by a deploy that fails after creating a VPC.
    if not options and value != default:
        offerings.check_offered(provider, label, value)
    return value


def choose_size_and_image(provider: Provider, size, image) -> tuple[str, str]:
    """The droplet size and image a provision on `provider` gets (its defaults when not given),
    checked against the provider's options or DigitalOcean's lists; ValidationError if not."""
    errors = {}
    chosen = {}
    for label, value, inputs, default in (
        ("size", size, SIZE_INPUTS, DEFAULT_SIZE),
        ("image", image, IMAGE_INPUTS, DEFAULT_IMAGE),
    ):
        try:
            chosen[label] = _choose(provider, value, inputs, default, label)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    return chosen["size"], chosen["image"]


def enqueue_job(job: Job) -> None:
    """Put the job's task on the broker once the transaction commits (at once outside one)."""
    transaction.on_commit(
        lambda: async_task(
            "provisions.jobs.run_job",
            job.pk,
            task_name=f"provision-{job.kind}-{job.pk}",
            sync=settings.JOBS_SYNC,
        )
    )


def start_job(provision: Provision, kind: str, user, **options) -> Job:
    live = provision.jobs.filter(state__in=JOB_LIVE).first()
    if live is not None:
        raise ValidationError(
            f"provision {provision.name} already has a job running ({live.kind} #{live.pk}, "
            f"{live.state}); wait for it to finish"
        )
    # While QUEUED, the lease's expiry is the pick-up deadline (jobs.leases.sweep).
    job = Job.objects.create(
        provision=provision,
        kind=kind,
        created_by=user,
        options=options,
        lease_expires_at=timezone.now() + timezone.timedelta(seconds=settings.JOB_LEASE_SECONDS),
    )
    enqueue_job(job)
    return job


def create_provision(
    user,
    *,
    provider,
    name: str,
    host_count=1,
    size: str | None = None,
    image: str | None = None,
    private_networks: list[dict] | None = None,
    template: template_format.ProvisionTemplate | None = None,
) -> Provision:
    """A new provision and its deploy job. `private_networks` ({name, address_range}; a
    provision template's `networks`) replace the default one, NAME-private. `template`: the
    provision template it is made from, kept for `show --yaml` (template_format.dump)."""
    errors = {}
    name = name.strip() if isinstance(name, str) else name
    if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name):
        errors["name"] = (
            f"{shown(name)} is not a valid provision name: use 1-40 letters, digits and "
            "dashes, starting with a letter (it becomes the hosts' names)"
        )
    if not isinstance(provider, Provider):
        ref = str(provider)
        provider = _visible_provider(user, ref)
        if provider is None:
            errors["provider"] = f"provider {ref!r} not found"
    try:
        host_count = int(host_count)
    except (TypeError, ValueError):
        host_count = 0
    if not 1 <= host_count <= settings.PROVISION_MAX_HOSTS:
        errors["hosts"] = f"number of hosts must be 1 to {settings.PROVISION_MAX_HOSTS}"
    if errors:
        raise ValidationError(errors)
    if not provider.has_token:
        raise ValidationError(
            {"provider": f"provider {provider.name} has no DigitalOcean token; set one first"}
        )
    size, image = choose_size_and_image(provider, size, image)

    key = generate_ed25519(f"edge-portal-{name}")
    host_key = generate_ed25519(f"edge-portal-host-{name}")
    try:
        with transaction.atomic():
            provision = Provision.objects.create(
                name=name,
                provider=provider,
                owner=user,
                host_count=host_count,
                size=size,
                image=image,
                ssh_public_key=key.public_openssh,
                ssh_private_key_encrypted=crypto.encrypt(key.private_openssh),
                host_key_public=host_key.public_openssh,
                host_key_private_encrypted=crypto.encrypt(host_key.private_openssh),
                host_key_fingerprint=host_key.sha256_fingerprint,
                description=template.description if template else "",
                template=template.definition if template else {},
                input_values=template.inputs if template else {},
            )
            ProvisionEvent.objects.create(
                provision=provision,
                actor=user,
                from_state="",
                to_state=ProvisionState.PENDING,
                reason="created",
            )
            Cluster.objects.create(provision=provision, name=name)
            Datastore.objects.bulk_create(
                [
                    Datastore(provision=provision, name=f"{name}-image", kind=DatastoreKind.IMAGE),
                    Datastore(
                        provision=provision, name=f"{name}-system", kind=DatastoreKind.SYSTEM
                    ),
                ]
            )
            Network.objects.create(
                provision=provision, name=f"{name}-public", kind=NetworkKind.PUBLIC
            )
            for network in private_networks or [{"name": f"{name}-private"}]:
                networks.new_private_network(
                    provision, network["name"], network.get("address_range")
                )
            Host.objects.bulk_create(
                [
                    Host(provision=provision, name=f"{name}-host-{index}")
                    for index in range(host_count)
                ]
            )
            start_job(provision, JobKind.DEPLOY, user)
    except IntegrityError:
        raise ValidationError({"name": f"you already have a provision named {name!r}"}) from None
    log.info("provision %s (%s) created by %s: %s hosts", provision.pk, name, user, host_count)
    return provision


def _visible_provider(user, ref: str) -> Provider | None:
    """The provider `ref` (ID or name) among the user's own and the shared ones; None if not
    (another tenant's provider is not found either)."""
    visible = Provider.objects.for_user(user)
    return (visible.filter(pk=int(ref)) if is_id(ref) else visible.filter(name=ref)).first()


def template_provider(user, text: str, provider: str | None = None) -> Provider:
    """The provider a provision template is for (`provider` over the template's own), which
    the user may use; TemplateError naming the template's problems, or the provider not found."""
    ref = template_format.provider_of(text, provider=provider)
    found = _visible_provider(user, ref)
    if found is None:
        raise template_format.TemplateError(
            f"provider: {ref!r} not found among your providers and the shared ones; "
            "give one of them by ID or name (`--provider`, or choose one on the page)"
        )
    return found


def resolve_template(
    user, text: str, *, provider: str | None = None, user_inputs: dict | None = None
) -> tuple[Provider, template_format.ProvisionTemplate]:
    """A provision template checked, its provider found and its inputs, the provider's it
    uses included, resolved (`oneprovision validate`); nothing is created."""
    found = template_provider(user, text, provider)
    template = template_format.parse(
        text, provider=provider, user_inputs=user_inputs, provider_inputs=found.inputs
    )
    return found, template


# What create_provision calls a field, as the template calls it.
TEMPLATE_FIELDS = {"hosts": "hosts.count", "size": "hosts.size", "image": "hosts.image"}


def create_from_template(
    user, text: str, *, provider: str | None = None, user_inputs: dict | None = None
) -> Provision:
    """`oneprovision create provision.yaml`: a provision template checked and its inputs
    resolved (provisions/template_format.py), then the same create as the form's; the
    provision keeps the template (description, inputs and their values) for `show --yaml`."""
    found, template = resolve_template(user, text, provider=provider, user_inputs=user_inputs)
    try:
        return create_provision(
            user,
            provider=found,
            name=template.name,
            host_count=template.hosts,
            size=template.size,
            image=template.image,
            private_networks=template.networks,
            template=template,
        )
    except ValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise
        lines = []
        for key, messages in exc.message_dict.items():
            where = TEMPLATE_FIELDS.get(key, key)
            source = template.sources.get(key)
            where += f" ({source})" if source else ""
            lines += [f"{where}: {message}" for message in messages]
        raise template_format.TemplateError(lines) from None


def changeable(user, provision: Provision) -> Provision:
    if not Provision.objects.for_user(user, CHANGE).filter(pk=provision.pk).exists():
        raise Http404(f"provision {provision.pk} not found")
    return provision


def _lost_job(provision: Provision) -> Job | None:
    """The provision's RUNNING job if its worker stopped answering (missed heartbeats): the
    user need not wait for its lease to expire."""
    job = provision.jobs.filter(state=JobState.RUNNING).first()
    return job if job is not None and leases.worker_lost(job) else None


def retry_provision(user, provision: Provision, *, force: bool = False) -> Job:
    """Resume at the step that failed: from ERROR, or at once when the job's worker died (its
    job is taken over and resumed, as the lease sweep would a little later). Earlier steps find
    their work done in the ledger and pass through. `force` (operators) abandons a live job."""
    changeable(user, provision)
    lost = _lost_job(provision)
    if lost is not None and leases.take_over(lost, f"retry by {user}"):
        provision.jobs.filter(pk=lost.pk).update(created_by=user)
        enqueue_job(lost)
        return Job.objects.get(pk=lost.pk)
    if force:
        provision.jobs.filter(state__in=JOB_LIVE).update(
            state=JobState.FAILED, error="abandoned by retry", finished_at=timezone.now()
        )
    allowed = {ProvisionState.ERROR}
    if force:
        allowed |= {
            ProvisionState.DEPLOYING,
            ProvisionState.CONFIGURING,
            ProvisionState.DELETING,
            ProvisionState.PENDING,
        }
    if provision.state not in allowed:
        raise ValidationError(
            f"provision {provision.name} is {provision.state}; only a "
            "provision in ERROR can be retried"
        )
    last = provision.jobs.exclude(state=JobState.SUCCESS).first()
    kind = JobKind.DELETE if last is not None and last.kind == JobKind.DELETE else JobKind.DEPLOY
    return start_job(provision, kind, user, retry=True)


def configure_provision(user, provision: Provision, *, force: bool = False, host=None) -> Job:
    """Run host configuration again (OpenNebula's `oneprovision configure`): the hosts, or one
    `host`, go back to INIT and a deploy job, whose reconciler configures every host that is
    not RUNNING and passes through the cloud steps already done, configures them. The whole
    provision only from ERROR unless `force`; one host of a RUNNING or ERROR provision."""
    changeable(user, provision)
    allowed = {ProvisionState.ERROR}
    if force or host is not None:
        allowed.add(ProvisionState.RUNNING)
    if provision.state not in allowed:
        only = "a RUNNING or ERROR provision" if len(allowed) > 1 else "a provision in ERROR"
        hint = "" if len(allowed) > 1 else " (or use force)"
        raise ValidationError(
            f"provision {provision.name} is {provision.state}; only {only} can be configured{hint}"
        )
    hosts = provision.hosts.exclude(state__in=[HostState.REMOVING, HostState.REMOVED])
    if host is not None:
        if host.provision_id != provision.pk:
            raise Http404(f"host {host.pk} not found")
        hosts = hosts.filter(pk=host.pk)
        if not hosts.exists():
            raise ValidationError(f"host {host.name} is {host.state}; it cannot be configured")
    with transaction.atomic():
        # Refused (a job running) rolls the hosts' state back with it.
        hosts.update(state=HostState.INIT)
        options = {"configure": True} | ({"host": host.pk} if host is not None else {})
        return start_job(provision, JobKind.DEPLOY, user, **options)


def needs_repair(provision: Provision) -> list[str]:
    """What a Repair would mend: the drift monitoring found, and hosts in ERROR."""
    found = list(provision.drift or [])
    for host in provision.hosts.filter(state=HostState.ERROR):
        line = f"{host.name}: {host.get_problem_display() if host.problem else host.last_error}"
        if not any(f.startswith(f"{host.name}:") for f in found):
            found.append(line)
    return found


def repair_provision(user, provision: Provision) -> Job:
    """Bring a drifted cluster back to what the ledger says: the same reconciler as a deploy,
    which re-creates the droplets gone from DigitalOcean, powers on those found off and
    configures every host that is not RUNNING."""
    changeable(user, provision)
    if provision.state not in {ProvisionState.RUNNING, ProvisionState.ERROR}:
        raise ValidationError(
            f"provision {provision.name} is {provision.state}; only a RUNNING or ERROR "
            "provision can be repaired"
        )
    if not needs_repair(provision):
        raise ValidationError(
            f"provision {provision.name} has nothing to repair: no drift found and every "
            "host is RUNNING"
        )
    return start_job(provision, JobKind.REPAIR, user)


def delete_provision(user, provision: Provision, *, cleanup: bool = False, force: bool = False):
    """Delete everything the provision made in DigitalOcean; works from any state but DONE.

    Refused while the cluster has live VMs unless `cleanup` (the delete job then terminates
    them). `force` (operators) is for a provision in ERROR whose cloud side is already gone:
    instead of a job, one verification listing, then the provision is DONE (see force_delete).
    """
    changeable(user, provision)
    if provision.state == ProvisionState.DONE:
        raise ValidationError(f"provision {provision.name} is already deleted")
    if force and not user.is_staff:
        raise PermissionDenied("a forced delete is for operators")
    refusal = deletion.live_vms_refusal(provision)
    if refusal and not cleanup:
        raise ValidationError(refusal)
    lost = _lost_job(provision)
    if lost is not None:
        leases.abandon(lost, "abandoned: its worker stopped answering")
    if force:
        return force_delete(user, provision)
    return start_job(provision, JobKind.DELETE, user, cleanup=cleanup)


def force_delete(user, provision: Provision) -> Job:
    """An ERROR provision whose droplets, firewall, VPC and key are already gone (deleted by
    hand, or the account emptied): the delete job would SSH to hosts that no longer exist and
    delete what is not there. Instead, the delete job's verification listing runs now; only if
    it finds nothing are the VMs released (no SSH: their hosts are gone), the ledger closed and
    the provision DONE, recorded as a finished delete job with the listing in its log."""
    if provision.state != ProvisionState.ERROR:
        raise ValidationError(
            f"provision {provision.name} is {provision.state}; only a provision in ERROR "
            "can be deleted with force"
        )
    try:
        left = deletion.cloud_leftovers(provision, driver_for(provision.provider))
    except CloudError as exc:
        raise ValidationError(f"cannot verify what is left in DigitalOcean: {exc}") from exc
    if left:
        raise ValidationError(
            f"provision {provision.name} still has in DigitalOcean: {', '.join(left)}; "
            "delete it without force so the delete job removes them"
        )
    now = timezone.now()
    with transaction.atomic():
        provision.jobs.filter(state__in=JOB_LIVE).update(
            state=JobState.FAILED, error="abandoned by a forced delete", finished_at=now
        )
        job = Job.objects.create(
            provision=provision,
            kind=JobKind.DELETE,
            created_by=user,
            options={"force": True},
            state=JobState.SUCCESS,
            step="verify",
            steps_done=1,
            steps_total=1,
            started_at=now,
            finished_at=now,
        )

        def log_line(message: str, level: str = "info") -> None:
            JobLogLine.objects.create(job=job, level=level, message=message)

        log_line(
            f"forced delete by {user}: verified nothing tagged or named {provision.tag} is "
            "left in DigitalOcean (droplets, firewalls, VPCs, SSH key)"
        )
        # Hosts first: with no host left to reach, the VMs' end releases rows without SSH.
        provision.hosts.update(state=HostState.REMOVED)
        ended = sum(hooks.end_cluster_vms(provision, log_line))
        if ended:
            log_line(f"{ended} VM(s) released with the cluster")
        CloudResource.objects.filter(provision=provision).exclude(
            state=ResourceState.DELETED
        ).update(state=ResourceState.DELETED, deleted_at=now)
        transition(
            provision,
            ProvisionState.DONE,
            {ProvisionState.ERROR},
            user,
            "forced delete: nothing left in DigitalOcean",
        )
    return job


def add_host(user, provision: Provision) -> Job:
    changeable(user, provision)
    if provision.state != ProvisionState.RUNNING:
        raise ValidationError(
            f"provision {provision.name} is {provision.state}; hosts can be "
            "added to a RUNNING provision"
        )
    if provision.hosts.exclude(state=HostState.REMOVED).count() >= settings.PROVISION_MAX_HOSTS:
        raise ValidationError(f"a provision has at most {settings.PROVISION_MAX_HOSTS} hosts")
    with transaction.atomic():
        # Removed hosts keep their rows, so the count never reuses a name.
        index = provision.hosts.count()
        host = Host.objects.create(provision=provision, name=f"{provision.name}-host-{index}")
        Provision.objects.filter(pk=provision.pk).update(host_count=provision.host_count + 1)
        job = start_job(provision, JobKind.ADD_HOST, user, host=host.pk)
    return job


def remove_host(user, provision: Provision, host: Host) -> Job:
    changeable(user, provision)
    if host.provision_id != provision.pk:
        raise Http404(f"host {host.pk} not found")
    if provision.state != ProvisionState.RUNNING:
        raise ValidationError(
            f"provision {provision.name} is {provision.state}; hosts can be "
            "removed from a RUNNING provision"
        )
    if provision.hosts.exclude(state=HostState.REMOVED).count() <= 1:
        raise ValidationError("cannot remove the last host; delete the provision instead")
    running = _some_names(host.vms.exclude(state="DONE").values_list("name", flat=True))
    if running:
        raise ValidationError(f"host {host.name} still runs VM(s) {running}; terminate them first")
    return start_job(provision, JobKind.REMOVE_HOST, user, host=host.pk)


def _some_names(names, shown: int = 5) -> str:
    """The first few names of a query for an error message ('a, b, c…'), '' when none."""
    first = list(names[: shown + 1])
    return ", ".join(first[:shown]) + ("…" if len(first) > shown else "")


def find_provision(user, ref) -> Provision:
    """A provision the user may see (not deleted), by ID or name."""
    visible = Provision.objects.for_user(user).exclude(state=ProvisionState.DONE)
    return find(visible, str(ref).strip(), "provision")


def create_network(user, provision: Provision, *, name: str, address_range: str | None = None):
    """Another private network (VXLAN segment) on a RUNNING cluster; a deploy job then gives
    every host its VXLAN device and bridge."""
    changeable(user, provision)
    if provision.state != ProvisionState.RUNNING:
        raise ValidationError(
            f"provision {provision.name} is {provision.state}; networks can be "
            "added to a RUNNING provision"
        )
    with transaction.atomic():
        network = networks.new_private_network(provision, name, address_range)
        start_job(provision, JobKind.DEPLOY, user, network=network.pk)
    log.info("network %s (%s) created on provision %s", network.pk, name, provision.pk)
    return network


def delete_network(user, network: Network) -> Job:
    """Remove a private network: refused while a live VM has a NIC on it; the hosts then drop
    its VXLAN device and bridge (evpn.sh removes every segment no longer listed)."""
    provision = network.provision
    changeable(user, provision)
    if network.kind != NetworkKind.PRIVATE:
        raise ValidationError(
            f"{network.name} is the cluster's public network; it goes with the provision"
        )
    if provision.state != ProvisionState.RUNNING:
        raise ValidationError(
            f"provision {provision.name} is {provision.state}; networks can be "
            "deleted from a RUNNING provision"
        )
    users = _some_names(network.nics.exclude(vm__state="DONE").values_list("vm__name", flat=True))
    if users:
        raise ValidationError(
            f"network {network.name} is used by VM(s) {users}; "
            "terminate them or wait for them to end first"
        )
    with transaction.atomic():
        Network.objects.filter(pk=network.pk).delete()  # leases of ended VMs go with it
        job = start_job(provision, JobKind.DEPLOY, user, deleted_network=network.name)
    log.info("network %s (%s) deleted from provision %s", network.pk, network.name, provision.pk)
    return job
