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
"""

import re
from dataclasses import dataclass, field

import yaml
from django.conf import settings
from django.core.exceptions import ValidationError

from portal.names import shown
from providers import yaml_format

TOP_LEVEL_KEYS = {"name", "description", "provider", "inputs", "hosts", "networks"}
HOSTS_KEYS = {"count", "size", "image"}
NETWORK_KEYS = {"name", "type", "address_range"}
# OpenNebula's provision inputs, as far as a provision here has values to give them.
TEMPLATE_INPUT_TYPES = ("text", "number", "list", "boolean")
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


def load(text: str, source: str = "provision.yaml") -> dict:
    try:
        return yaml_format.load(text, source)
    except yaml_format.ProviderYAMLError as exc:
        raise TemplateError(
            [m.replace("provider file", "provision template") for m in exc.messages]
        ) from None


def parse_user_inputs(text: str | None) -> dict:
    """`--user-inputs hosts=3,size=s-2vcpu-4gb` as a mapping of text values."""
    values = {}
    for part in filter(None, (text or "").split(",")):
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise TemplateError(f"--user-inputs: {part!r} is not NAME=VALUE")
        values[name.strip()] = value.strip()
    return values


def _coerce(spec: dict, value, where: str):
    """The input's value as its type, within its bounds and options; TemplateError if not."""
    kind = spec.get("type", "text")
    if kind == "number":
        try:
            number = float(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None:
            raise TemplateError(f"{where}: {shown(value)} is not a number")
        number = int(number) if number.is_integer() else number
        low, high = spec.get("min_value"), spec.get("max_value")
        if (low is not None and number < low) or (high is not None and number > high):
            raise TemplateError(f"{where}: {number} is outside {low}..{high}")
        return number
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("yes", "true", "1", "on"):
            return True
        if text in ("no", "false", "0", "off"):
            return False
        raise TemplateError(f"{where}: {shown(value)} is not one of yes, no")
    if kind == "list":
        options = spec["options"]
        match = [o for o in options if str(o) == str(value)]
        if not match:
            allowed = ", ".join(map(str, options))
            raise TemplateError(f"{where}: {shown(value)} is not one of {allowed}")
        return match[0]
    return str(value)


def _resolve_inputs(specs: list[dict], given: dict) -> dict:
    errors, values = [], {}
    known = {spec["name"] for spec in specs}
    for name in sorted(set(given) - known):
        allowed = ", ".join(sorted(known)) or "none (the template has no inputs)"
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
            raise TemplateError(f"{where}: ${{input.{name}}} is not an input; inputs: {allowed}")
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
        clean.append({"name": name, "address_range": address_range or None})
    return clean, errors


def _checked(text: str, source: str, provider: str | None) -> tuple[dict, list[dict]]:
    data = load(text, source)
    if provider:
        data["provider"] = provider
    errors = _check_top(data)
    errors += _check_input_types(data.get("inputs"))
    specs, input_errors = yaml_format.check_inputs(data.get("inputs"))
    errors += input_errors
    if errors:
        raise TemplateError(errors)
    return data, specs


def input_specs(text: str, source: str = "provision.yaml") -> list[dict]:
    """The template's inputs, checked (what the page builds its form from)."""
    return _checked(text, source, None)[1]


def parse(
    text: str,
    source: str = "provision.yaml",
    *,
    provider: str | None = None,
    user_inputs: dict | None = None,
) -> ProvisionTemplate:
    """Check a template and resolve its inputs (`user_inputs` over the defaults); `provider`
    (`--provider`) overrides the template's. Every problem is reported at once."""
    data, specs = _checked(text, source, provider)
    values = _resolve_inputs(specs, user_inputs or {})
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
    return ProvisionTemplate(
        name=str(name),
        provider=str(data["provider"]),
        hosts=hosts["count"],
        size=hosts.get("size"),
        image=hosts.get("image"),
        description=data.get("description") or "",
        networks=networks,
        inputs=values,
    )


def dump(provision) -> str:
    """A provision as a template (`oneprovision show --yaml`) that `create` takes back: the
    values it was made with, written out (inputs already resolved)."""
    data = {
        "name": provision.name,
        "provider": provision.provider.name,
        "hosts": {
            "count": provision.hosts.exclude(state="REMOVED").count() or provision.host_count,
            "size": provision.size,
            "image": provision.image,
        },
        "networks": [
            {"name": n.name, "type": "private", "address_range": n.address_range}
            for n in provision.networks.filter(kind="private").order_by("id")
        ],
    }
    return yaml.safe_dump(data, sort_keys=False)
