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
import re
from dataclasses import dataclass, field

import yaml
from django.conf import settings
from django.core.exceptions import ValidationError

from core.names import shown
from core.yesno import parse_yes_no
from providers import yaml_format

TOP_LEVEL_KEYS = {"name", "description", "provider", "inputs", "hosts", "networks"}
HOSTS_KEYS = {"count", "size", "image"}
NETWORK_KEYS = {"name", "type", "address_range"}
# OpenNebula's provision inputs, as far as a provision here has values to give them; a
# provider's inputs the template uses must be of these types too.
TEMPLATE_INPUT_TYPES = ("text", "number", "number-float", "range", "range-float", "list", "boolean")
PROVIDER_INPUT_TYPES = TEMPLATE_INPUT_TYPES
NUMBER_TYPES = ("number", "number-float", "range", "range-float")
# Inputs that give the hosts' size and image when the template's `hosts` sets none (the first
# of these names an input has, the template's own or the provider's).
HOST_INPUTS = {
    "size": ("digitalocean_size",),
    "image": ("digitalocean_image", "digitalocean_droplet"),
}
INPUT_KEY_ORDER = ("name", "type", "description", "options", "default", "min_value", "max_value")
REFERENCE = re.compile(r"\$\{input\.([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_NETWORKS = 8


class TemplateError(ValidationError):
    pass


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


def _coerce(spec: dict, value, where: str):
    """The input's value as its type, within its bounds and options; TemplateError if not."""
    kind = spec.get("type", "text")
    if kind in NUMBER_TYPES:
        try:
            number = float(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None or number != number or number in (float("inf"), float("-inf")):
            raise TemplateError(f"{where}: {shown(value)} is not a number")
        if kind == "range" and not number.is_integer():
            raise TemplateError(f"{where}: {shown(value)} is not a whole number")
        if not kind.endswith("-float"):
            number = int(number) if number.is_integer() else number
        low, high = spec.get("min_value"), spec.get("max_value")
        if (low is not None and number < low) or (high is not None and number > high):
            raise TemplateError(f"{where}: {number} is outside {low}..{high}")
        return number
    if kind == "boolean":
        try:
            return parse_yes_no(value)
        except ValueError:
            raise TemplateError(f"{where}: {shown(value)} is not one of yes, no") from None
    if kind == "list":
        options = spec["options"]
        match = [o for o in options if str(o) == str(value)]
        if not match:
            allowed = ", ".join(map(str, options))
            raise TemplateError(f"{where}: {shown(value)} is not one of {allowed}")
        return match[0]
    return str(value)


def _resolve_inputs(specs: list[dict], given: dict, unused: dict | None = None) -> dict:
    """The inputs' values; `unused`: the provider's inputs this template does not use (name ->
    why), so a value given for one says so rather than "no such input"."""
    errors, values = [], {}
    known = {spec["name"] for spec in specs}
    for name in sorted(set(given) - known):
        allowed = ", ".join(sorted(known)) or "none (the template has no inputs)"
        if name in (unused or {}):
            errors.append(
                f"user input {name!r}: the provider's input is not used by this template "
                f"({unused[name]}); the inputs it uses: {allowed}"
            )
            continue
        errors.append(f"user input {name!r}: no such input; the template's inputs: {allowed}")
    for spec in specs:
        name = spec["name"]
        where = f"input {name}"
        if name in given:
            value = given[name]
        elif "default" in spec:
            value = spec["default"]
        else:
            errors.append(f"{where}: required (give it with --user-inputs {name}=VALUE)")
            continue
        try:
            values[name] = _coerce(spec, value, where)
        except TemplateError as exc:
            errors += exc.messages
    if errors:
        raise TemplateError(errors)
    return values


def _substitute(value, values: dict, where: str):
    """`${input.NAME}` in a value: the whole value becomes the input's (typed) value, or the
    reference is replaced inside text."""
    if not isinstance(value, str):
        return value
    whole = REFERENCE.fullmatch(value.strip())
    for name in REFERENCE.findall(value):
        if name not in values:
            allowed = ", ".join(sorted(values)) or "none"
            raise TemplateError(
                f"{where}: ${{input.{name}}} is not an input of the template or of its "
                f"provider; inputs: {allowed}"
            )
    if whole:
        return values[whole.group(1)]
    return REFERENCE.sub(lambda m: str(values[m.group(1)]), value)


def _check_top(data: dict) -> list[str]:
    errors = yaml_format.unknown_keys(data, TOP_LEVEL_KEYS, "provision template")
    for key in ("name", "provider"):
        if data.get(key) in (None, ""):
            errors.append(f"{key}: required")
    error = yaml_format.text_error(data.get("description"), "description", 1024, multiline=True)
    if error:
        errors.append(error)
    return errors


def _check_input_types(inputs) -> list[str]:
    errors = []
    for index, item in enumerate(inputs if isinstance(inputs, list) else []):
        kind = item.get("type", "text") if isinstance(item, dict) else None
        if kind is not None and kind not in TEMPLATE_INPUT_TYPES:
            errors.append(
                f"inputs[{index}].type: {shown(kind)} is not one of "
                f"{', '.join(TEMPLATE_INPUT_TYPES)}"
            )
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
                clean[key] = _substitute(hosts[key], values, f"hosts.{key}")
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
            name = _substitute(item.get("name"), values, f"{where}.name")
            address_range = _substitute(item.get("address_range"), values, f"{where}.address_range")
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
    errors += _check_input_types(data.get("inputs"))
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


def _references(value) -> set[str]:
    if isinstance(value, str):
        return set(REFERENCE.findall(value))
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return set().union(*(_references(item) for item in items)) if items else set()


def _provider_spec(spec: dict) -> dict:
    """A provider's input as the template uses it: a list without a default takes its first
    option, as the provider's own size and image choice always did (Provider.input_default)."""
    spec = dict(spec)
    if spec.get("type") == "list" and "default" not in spec and spec.get("options"):
        spec["default"] = spec["options"][0]
    return spec


@dataclass
class Inputs:
    """A template's inputs joined with its provider's (what the page's form is built from)."""

    own: list[dict]
    provider: list[dict]  # the provider's inputs the template uses
    uses: dict  # each of those: what it gives ("hosts.size", "${input.x} in the template")
    unused: dict  # the provider's other inputs: why they do not count
    fallbacks: dict  # "size"/"image" -> the input giving it when `hosts` sets none

    @property
    def specs(self) -> list[dict]:
        return self.own + self.provider


def _join(data: dict, own: list[dict], provider_inputs: list[dict] | None) -> Inputs:
    hosts = data.get("hosts") if isinstance(data.get("hosts"), dict) else {}
    referenced = _references([data.get("name"), hosts, data.get("networks")])
    own_names = {spec["name"] for spec in own}
    offered = {
        spec["name"]: spec
        for spec in provider_inputs or []
        if isinstance(spec, dict) and spec.get("name") not in own_names
    }
    uses, unused, fallbacks = {}, {}, {}
    for key, names in HOST_INPUTS.items():
        giver = next((n for n in names if n in own_names or n in offered), None)
        if giver is None:
            continue
        if key in hosts:
            if giver in offered and giver not in referenced:
                unused[giver] = f"hosts.{key} is set"
            continue
        fallbacks[key] = giver
        if giver in offered:
            uses[giver] = f"hosts.{key} (the template sets none)"
    for name in sorted(referenced & set(offered)):
        uses.setdefault(name, f"${{input.{name}}} in the template")
    for name in offered:
        if name not in uses:
            unused.setdefault(name, "the template neither refers to it nor needs it")
    errors = []
    for name in uses:
        kind = offered[name].get("type", "text")
        if kind not in PROVIDER_INPUT_TYPES:
            errors.append(
                f"provider input {name}: type {kind!r} cannot be used in a provision "
                f"template ({uses[name]}); usable types: {', '.join(PROVIDER_INPUT_TYPES)}"
            )
    if errors:
        raise TemplateError(errors)
    used = [_provider_spec(offered[name]) for name in offered if name in uses]
    return Inputs(own=own, provider=used, uses=uses, unused=unused, fallbacks=fallbacks)


def form_inputs(
    text: str,
    source: str = "provision.yaml",
    *,
    provider: str | None = None,
    provider_inputs: list[dict] | None = None,
) -> Inputs:
    """The template's inputs and the provider's it uses, checked (the page's form)."""
    data, own = _checked(text, source, provider)
    return _join(data, own, provider_inputs)


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
    inputs = _join(data, own, provider_inputs)
    values = _resolve_inputs(inputs.specs, user_inputs or {}, inputs.unused)
    errors = []
    try:
        name = _substitute(data["name"], values, "name")
    except TemplateError as exc:
        errors += exc.messages
        name = ""
    hosts, host_errors = _hosts(data, values)
    networks, network_errors = _networks(data, values)
    errors += host_errors + network_errors
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
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)
