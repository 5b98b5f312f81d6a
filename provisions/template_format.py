"""Provision templates (`oneprovision create provision.yaml`), modelled on OpenNebula's: a
cluster definition kept in a file, with inputs the user fills in at create time.

    name: edge-web
    provider: digitalocean-amsterdam
    inputs:
      - {name: hosts, type: number, default: 2, min_value: 1, max_value: 10}
    hosts:
      count: ${input.hosts}
    networks:
      - {name: edge-web-backend, type: private, address_range: 10.200.1.0/24}
    placement: packing        # optional: packing, striping (the default) or load-aware

Parsing never saves anything: it returns clean values or raises `TemplateError`, whose lines
name the YAML line (syntax) or the field (content) and what is allowed, like the provider YAML
(whose loader, refusing anchors and aliases, and whose input checks this reuses).

The provider's inputs join the template's, as OpenNebula merges them (`cfg['inputs'] |
provider.inputs`, the template's own winning on a name both have): a template may refer to
them (`${input.digitalocean_size}`), and `digitalocean_size` / `digitalocean_image` (or
`digitalocean_droplet`) give the hosts' size and image when `hosts` sets none. Only the
provider's inputs a template uses are asked for.
"""

import json
from dataclasses import dataclass, field

import yaml
from django.conf import settings

from core.names import shown
from providers import yaml_format
from provisions import template_inputs
from provisions.choices import PlacementPolicy
from provisions.template_inputs import REFERENCE, TemplateError

TOP_LEVEL_KEYS = {"name", "description", "provider", "inputs", "hosts", "networks", "placement"}
HOSTS_KEYS = {"count", "size", "image"}
NETWORK_KEYS = {"name", "type", "address_range"}
INPUT_KEY_ORDER = ("name", "type", "description", "options", "default", "min_value", "max_value")
MAX_NETWORKS = 8


@dataclass
class ProvisionTemplate:
    """A checked template with its inputs resolved: what create_provision takes."""

    name: str
    provider: str
    hosts: int
    size: str | None = None
    image: str | None = None
    description: str = ""
    networks: list[dict] = field(default_factory=list)
    placement: str | None = None  # the placement policy; None: the default
    inputs: dict = field(default_factory=dict)  # the values used, defaults included
    # What a provision keeps to be written back as a template (dump): the definition as given,
    # references kept, with the provider's inputs it used among its `inputs`.
    definition: dict = field(default_factory=dict)
    # Where the hosts' size and image came from ("input size"), for errors found later.
    sources: dict = field(default_factory=dict)


def load(text: str, source: str = "provision.yaml") -> dict:
    try:
        return yaml_format.load(text, source)
    except yaml_format.ProviderYAMLError as exc:
        raise TemplateError(
            [m.replace("provider file", "provision template") for m in exc.messages]
        ) from None


def _check_top(data: dict) -> list[str]:
    errors = yaml_format.unknown_keys(data, TOP_LEVEL_KEYS, "provision template")
    for key in ("name", "provider"):
        if data.get(key) in (None, ""):
            errors.append(f"{key}: required")
    error = yaml_format.text_error(data.get("description"), "description", 1024, multiline=True)
    if error:
        errors.append(error)
    return errors


def _hosts(data: dict, values: dict) -> tuple[dict, list[str]]:
    hosts = data.get("hosts") or {}
    if not isinstance(hosts, dict):
        return {}, ["hosts: a mapping with count, size, image"]
    errors = yaml_format.unknown_keys(hosts, HOSTS_KEYS, "hosts")
    clean = {}
    for key in HOSTS_KEYS:
        if key in hosts:
            try:
                clean[key] = template_inputs.substitute(hosts[key], values, f"hosts.{key}")
            except TemplateError as exc:
                errors += exc.messages
    count = clean.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        errors.append(f"hosts.count: {shown(count)} is not a whole number of hosts")
    elif count > settings.PROVISION_MAX_HOSTS:
        errors.append(f"hosts.count: at most {settings.PROVISION_MAX_HOSTS}")
    clean["count"] = count
    for key in ("size", "image"):
        if key in clean and not isinstance(clean[key], str):
            errors.append(f"hosts.{key}: must be a DigitalOcean {key} slug (text)")
    return clean, errors


def _placement(data: dict, values: dict) -> tuple[str | None, list[str]]:
    if data.get("placement") is None:
        return None, []
    try:
        value = template_inputs.substitute(data["placement"], values, "placement")
    except TemplateError as exc:
        return None, exc.messages
    if value not in PlacementPolicy.values:
        return None, [
            f"placement: {shown(value)} is not a placement policy; use one of "
            f"{', '.join(PlacementPolicy.values)}"
        ]
    return value, []


def _networks(data: dict, values: dict) -> tuple[list[dict], list[str]]:
    items = data.get("networks") or []
    if not isinstance(items, list):
        return [], ["networks: a list of networks ('- name: ...')"]
    if len(items) > MAX_NETWORKS:
        return [], [f"networks: at most {MAX_NETWORKS}"]
    errors, clean = [], []
    for index, item in enumerate(items):
        where = f"networks[{index}]"
        if not isinstance(item, dict):
            errors.append(f"{where}: a mapping with name, type, address_range")
            continue
        errors += yaml_format.unknown_keys(item, NETWORK_KEYS, where)
        if item.get("type", "private") != "private":
            errors.append(
                f"{where}.type: {shown(item.get('type'))} is not one of private "
                "(the public network comes with every provision)"
            )
        try:
            name = template_inputs.substitute(item.get("name"), values, f"{where}.name")
            address_range = template_inputs.substitute(
                item.get("address_range"), values, f"{where}.address_range"
            )
        except TemplateError as exc:
            errors += exc.messages
            continue
        if not isinstance(name, str) or not name:
            errors.append(f"{where}.name: required")
            continue
        if address_range not in (None, "") and not isinstance(address_range, str):
            errors.append(f"{where}.address_range: an IPv4 range as text, e.g. 10.200.1.0/24")
            continue
        clean.append({"name": name, "address_range": address_range or None})
    return clean, errors


def _checked_data(data: dict, provider: str | None) -> tuple[dict, list[dict]]:
    if provider:
        data["provider"] = provider
    errors = _check_top(data)
    errors += template_inputs.check_types(data.get("inputs"))
    specs, input_errors = yaml_format.check_inputs(data.get("inputs"))
    errors += input_errors
    if errors:
        raise TemplateError(errors)
    return data, specs


def _checked(text: str, source: str, provider: str | None) -> tuple[dict, list[dict]]:
    return _checked_data(load(text, source), provider)


def provider_of(text: str, source: str = "provision.yaml", provider: str | None = None) -> str:
    """The provider the template is for (`provider`, i.e. `--provider`, over its own), once the
    template is checked as far as it can be without the provider's inputs."""
    return str(_checked(text, source, provider)[0]["provider"])


def form_inputs(
    text: str,
    source: str = "provision.yaml",
    *,
    provider: str | None = None,
    provider_inputs: list[dict] | None = None,
) -> template_inputs.Inputs:
    """The template's inputs and the provider's it uses, checked (the page's form)."""
    data, own = _checked(text, source, provider)
    return template_inputs.join(data, own, provider_inputs)


def _ordered(spec: dict) -> dict:
    return {key: spec[key] for key in INPUT_KEY_ORDER if key in spec}


def _definition(data: dict, specs: list[dict]) -> dict:
    hosts = data.get("hosts") or {}
    networks = data.get("networks") or []
    definition = {
        "name": data["name"],
        "inputs": [_ordered(spec) for spec in specs],
        "hosts": {key: hosts[key] for key in ("count", "size", "image") if key in hosts},
        "networks": [
            {key: item[key] for key in ("name", "type", "address_range") if key in item}
            for item in networks
        ],
    }
    if data.get("placement") is not None:
        definition["placement"] = data["placement"]
    try:
        return json.loads(json.dumps(definition))
    except (TypeError, ValueError):
        raise TemplateError("the template has values that are not text or numbers") from None


def _source(raw, fallback: str | None) -> str:
    if raw is None:
        return f"input {fallback}" if fallback else ""
    whole = REFERENCE.fullmatch(raw.strip()) if isinstance(raw, str) else None
    return f"input {whole.group(1)}" if whole else ""


def parse_data(
    data: dict,
    *,
    provider: str | None = None,
    user_inputs: dict | None = None,
    provider_inputs: list[dict] | None = None,
) -> ProvisionTemplate:
    """`parse` of a template already loaded (a mapping, e.g. one a provision kept)."""
    data, own = _checked_data(dict(data), provider)
    inputs = template_inputs.join(data, own, provider_inputs)
    values = template_inputs.resolve(inputs.specs, user_inputs or {}, inputs.unused)
    errors = []
    try:
        name = template_inputs.substitute(data["name"], values, "name")
    except TemplateError as exc:
        errors += exc.messages
        name = ""
    hosts, host_errors = _hosts(data, values)
    networks, network_errors = _networks(data, values)
    placement, placement_errors = _placement(data, values)
    errors += host_errors + network_errors + placement_errors
    if errors:
        raise TemplateError(errors)
    sources = {}
    raw_hosts = data.get("hosts") or {}
    for key in ("size", "image"):
        giver = inputs.fallbacks.get(key)
        if key not in hosts and giver is not None:
            hosts[key] = values[giver]
            if not isinstance(hosts[key], str):
                raise TemplateError(f"input {giver}: must be a DigitalOcean {key} slug (text)")
        sources[key] = _source(raw_hosts.get(key), giver)
    return ProvisionTemplate(
        name=str(name),
        provider=str(data["provider"]),
        hosts=hosts["count"],
        size=hosts.get("size"),
        image=hosts.get("image"),
        description=data.get("description") or "",
        networks=networks,
        placement=placement,
        inputs=values,
        definition=_definition(data, inputs.specs),
        sources=sources,
    )


def parse(
    text: str,
    source: str = "provision.yaml",
    *,
    provider: str | None = None,
    user_inputs: dict | None = None,
    provider_inputs: list[dict] | None = None,
) -> ProvisionTemplate:
    """Check a template and resolve its inputs (`user_inputs` over the defaults) with the
    provider's inputs it uses (`provider_inputs`, the provider's `inputs`); `provider`
    (`--provider`) overrides the template's. Every problem is reported at once."""
    return parse_data(
        load(text, source),
        provider=provider,
        user_inputs=user_inputs,
        provider_inputs=provider_inputs,
    )


def _provider_ref(provision) -> str:
    """The provider's name, as `create` finds it for the provision's owner; its ID when that
    name would find another of the owner's providers first."""
    from providers.models import Provider

    provider = provision.provider
    first = Provider.objects.for_user(provision.owner).filter(name=provider.name).first()
    return provider.name if first is not None and first.pk == provider.pk else str(provider.pk)


def _live(provision) -> tuple[int, list[dict]]:
    count = provision.hosts.exclude(state="REMOVED").count() or provision.host_count
    networks = [
        {"name": n.name, "type": "private", "address_range": n.address_range}
        for n in provision.networks.filter(kind="private").order_by("id")
    ]
    return count, networks


def _pinned(provision, data: dict, count: int, networks: list[dict]) -> dict:
    """`data` (the kept template, the inputs' values as their defaults) with every value that
    no longer resolves to what the provision is written out as it is: hosts added or removed,
    networks added or deleted, a range DigitalOcean's side chose, a size from a default."""
    try:
        resolved = parse_data(data, provider_inputs=provision.provider.inputs)
    except TemplateError:
        resolved = None
    hosts = data["hosts"]
    if resolved is None or resolved.name != provision.name:
        data["name"] = provision.name
    if resolved is None or resolved.hosts != count:
        hosts["count"] = count
    for key in ("size", "image"):
        if resolved is None or getattr(resolved, key) != getattr(provision, key):
            hosts[key] = getattr(provision, key)
    made = (resolved.networks if resolved else None) or [
        {"name": f"{provision.name}-private", "address_range": None}
    ]
    items = data["networks"] or [{"name": made[0]["name"], "type": "private"}]
    if resolved is None or [n["name"] for n in made] != [n["name"] for n in networks]:
        data["networks"] = networks
        return data
    for item, was, now in zip(items, made, networks, strict=True):
        if was["address_range"] != now["address_range"]:
            item["address_range"] = now["address_range"]
    data["networks"] = items
    return data


class _Dumper(yaml.SafeDumper):
    """Text with line breaks (a description) as a literal block, as one would write it."""


def _text(dumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def dump(provision) -> str:
    """A provision as a template (`oneprovision show --yaml`) that `create` takes back to make
    the same provision: the template it was made from, when it was (description, inputs with
    the values used as their defaults, references kept where they still hold), else its values
    written out."""
    count, networks = _live(provision)
    data = {"name": provision.name}
    if provision.description:
        data["description"] = provision.description
    data["provider"] = _provider_ref(provision)
    kept = provision.template or {}
    if kept:
        values = provision.input_values or {}
        data["name"] = kept.get("name", provision.name)
        data["inputs"] = [
            _ordered(dict(spec, default=values[spec["name"]]) if spec["name"] in values else spec)
            for spec in kept.get("inputs", [])
        ]
        data["hosts"] = dict(kept.get("hosts") or {})
        data["networks"] = [dict(item) for item in kept.get("networks") or []]
        data = _pinned(provision, data, count, networks)
        if not data["inputs"]:
            del data["inputs"]
    else:
        data["hosts"] = {"count": count, "size": provision.size, "image": provision.image}
        data["networks"] = networks
    if provision.placement_policy != PlacementPolicy.STRIPING or "placement" in kept:
        data["placement"] = provision.placement_policy
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)
