"""Making a provision: from the form's fields or from a provision template, checked first, then
its rows (cluster, datastores, networks, hosts) and its deploy job in one transaction."""

import logging
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from core import crypto, quotas
from core.choices import EventSource
from core.groups import group_for_new
from core.names import shown
from hostexec.keys import generate_ed25519
from providers import offerings, prices
from providers.models import Provider
from provisions import networks, template_format, template_inputs
from provisions.choices import DatastoreKind, JobKind, NetworkKind, ProvisionState
from provisions.models import (
    NAME_PATTERN,
    Cluster,
    Datastore,
    Host,
    Network,
    Provision,
    ProvisionEvent,
)
from provisions.services.droplet_needs import droplet_needs
from provisions.services.lifecycle import start_job
from provisions.services.lookup import visible_provider
from provisions.services.policy import check_policy

log = logging.getLogger(__name__)

IMAGE_INPUTS = template_inputs.HOST_INPUTS["image"]
SIZE_INPUTS = template_inputs.HOST_INPUTS["size"]
DEFAULT_IMAGE = "ubuntu-22-04-x64"
DEFAULT_SIZE = "s-1vcpu-2gb"


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


def estimate_cost(user, *, provider, host_count=1, size=None) -> prices.Estimate:
    """What `host_count` droplets of `size` (the provider's default when not given) cost, before
    any is made; ValidationError for a wrong provider, count or size, or when DigitalOcean
    cannot give the price now."""
    provider, _, host_count = _checked_request(user, provider, "estimate", host_count)
    size, _ = choose_size_and_image(provider, size, None)
    found = prices.estimate(provider, size, host_count)
    if found is None:
        raise ValidationError(
            {"size": f"DigitalOcean gives no price for {size} now; try again in a moment"}
        )
    return found


def _checked_request(user, provider, name, host_count) -> tuple[Provider, str, int]:
    """The provider (found by ID or name when not given as one), name and host count of a new
    provision; ValidationError naming every field that is wrong."""
    errors = {}
    name = name.strip() if isinstance(name, str) else name
    if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name):
        errors["name"] = (
            f"{shown(name)} is not a valid provision name: use 1-40 letters, digits and "
            "dashes, starting with a letter (it becomes the hosts' names)"
        )
    if not isinstance(provider, Provider):
        ref = str(provider)
        provider = visible_provider(user, ref)
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
    return provider, name, host_count


def _cluster_rows(provision: Provision, private_networks: list[dict] | None) -> None:
    """The new provision's cluster, datastores, networks and hosts (still INIT)."""
    name = provision.name
    Cluster.objects.create(provision=provision, name=name)
    Datastore.objects.bulk_create(
        [
            Datastore(provision=provision, name=f"{name}-image", kind=DatastoreKind.IMAGE),
            Datastore(provision=provision, name=f"{name}-system", kind=DatastoreKind.SYSTEM),
        ]
    )
    Network.objects.create(provision=provision, name=f"{name}-public", kind=NetworkKind.PUBLIC)
    for network in private_networks or [{"name": f"{name}-private"}]:
        networks.new_private_network(provision, network["name"], network.get("address_range"))
    Host.objects.bulk_create(
        [
            Host(provision=provision, name=f"{name}-host-{index}")
            for index in range(provision.host_count)
        ]
    )


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
    placement_policy: str | None = None,
    group=None,
) -> Provision:
    """A new provision and its deploy job, in `group` (a core.groups.Group; default the
    user's primary group). `private_networks` ({name, address_range}; a
    provision template's `networks`) replace the default one, NAME-private. `template`: the
    provision template it is made from, kept for `show --yaml` (template_format.dump)."""
    provider, name, host_count = _checked_request(user, provider, name, host_count)
    group = group_for_new(user, group)
    placement_policy = check_policy(placement_policy)
    size, image = choose_size_and_image(provider, size, image)
    key = generate_ed25519(f"edge-portal-{name}")
    host_key = generate_ed25519(f"edge-portal-host-{name}")
    needs = droplet_needs(provider, size, host_count)
    try:
        with transaction.atomic():
            quotas.reserve(user, group, needs, what=f"this cluster's {host_count} host(s)")
            provision = Provision.objects.create(
                name=name,
                provider=provider,
                owner=user,
                group=group,
                host_count=host_count,
                size=size,
                image=image,
                placement_policy=placement_policy,
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
                source=EventSource.USER,
                actor=user,
                from_state="",
                to_state=ProvisionState.PENDING,
                reason="created",
            )
            _cluster_rows(provision, private_networks)
            start_job(provision, JobKind.DEPLOY, user)
    except IntegrityError:
        raise ValidationError({"name": f"you already have a provision named {name!r}"}) from None
    log.info("provision %s (%s) created by %s: %s hosts", provision.pk, name, user, host_count)
    return provision


def template_provider(user, text: str, provider: str | None = None) -> Provider:
    """The provider a provision template is for (`provider` over the template's own), which
    the user may use; TemplateError naming the template's problems, or the provider not found."""
    ref = template_format.provider_of(text, provider=provider)
    found = visible_provider(user, ref)
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
TEMPLATE_FIELDS = {
    "hosts": "hosts.count",
    "size": "hosts.size",
    "image": "hosts.image",
    "placement_policy": "placement",
}


def create_from_template(
    user, text: str, *, provider: str | None = None, user_inputs: dict | None = None, group=None
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
            placement_policy=template.placement,
            group=group,
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
