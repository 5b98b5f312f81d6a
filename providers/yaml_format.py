"""The provider YAML of the document (`oneprovider create provider.yaml`): parse, check, export.

Parsing never saves anything: it returns clean data or raises `ProviderYAMLError` whose message
names the line (for YAML syntax) or the key (for content), and says how to fix it.
"""

import yaml
from django.core.exceptions import ValidationError

from providers.choices import DIGITALOCEAN_REGIONS, INPUT_TYPES, ProviderType, ProvisionType

TOP_LEVEL_KEYS = {"name", "description", "provider", "plain", "connection", "inputs"}
PLAIN_KEYS = {"image", "location_key", "provision_type"}
CONNECTION_KEYS = {"token", "region"}
INPUT_KEYS = {"name", "type", "description", "options", "default", "min_value", "max_value"}
MAX_YAML_BYTES = 64 * 1024


class ProviderYAMLError(ValidationError):
    pass


def _syntax_error(exc: yaml.YAMLError, source: str) -> ProviderYAMLError:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return ProviderYAMLError(f"{source}: invalid YAML: {problem}")
    line = mark.line + 1
    text = (mark.buffer or "").split("\n")[mark.line] if mark.buffer else ""
    hint = ""
    if "mapping values are not allowed" in problem or "expected <block end>" in problem:
        problem = f"unexpected indentation ({problem})"
        hint = (
            ": keys of one list item must line up with the first one, e.g. "
            "'- name: x' then '  type: y' (two spaces in, not four)"
        )
    shown = f" in {text.strip()!r}" if text.strip() else ""
    return ProviderYAMLError(
        f"{source}, line {line}, column {mark.column + 1}: {problem}{shown}{hint}"
    )


def load(text: str, source: str = "provider.yaml") -> dict:
    """Parse YAML text into a mapping, with line-precise syntax errors."""
    if len(text.encode()) > MAX_YAML_BYTES:
        raise ProviderYAMLError(f"{source}: larger than {MAX_YAML_BYTES // 1024} KiB")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, source) from None
    if not isinstance(data, dict):
        raise ProviderYAMLError(
            f"{source}: expected a mapping with name, provider, connection... at the top level"
        )
    return data


def _unknown(keys, allowed, where):
    extra = sorted(set(keys) - allowed)
    if extra:
        return [
            f"{where}: unknown key(s) {', '.join(extra)}; allowed: {', '.join(sorted(allowed))}"
        ]
    return []


def _check_inputs(inputs) -> tuple[list, list[str]]:
    errors = []
    if inputs is None:
        return [], errors
    if not isinstance(inputs, list):
        return [], ["inputs: must be a list of inputs ('- name: ...')"]
    clean = []
    for index, item in enumerate(inputs):
        where = f"inputs[{index}]"
        if not isinstance(item, dict):
            errors.append(f"{where}: must be a mapping with name and type")
            continue
        errors += _unknown(item, INPUT_KEYS, where)
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            errors.append(f"{where}.name: required")
        input_type = item.get("type", "text")
        if input_type not in INPUT_TYPES:
            errors.append(f"{where}.type: {input_type!r} is not one of {', '.join(INPUT_TYPES)}")
        options = item.get("options")
        if input_type in ("list", "list-multiple"):
            if (
                not isinstance(options, list)
                or not options
                or not all(isinstance(o, str | int | float) for o in options)
            ):
                errors.append(f"{where}.options: a '{input_type}' input needs a list of options")
            elif "default" in item and item["default"] not in options:
                errors.append(f"{where}.default: {item['default']!r} is not one of its options")
        clean.append({k: v for k, v in item.items() if k in INPUT_KEYS})
    return clean, errors


def validate(data: dict, *, require_token: bool = True) -> dict:
    """Check provider data (from YAML, a form or the API) and return it normalised."""
    errors = _unknown(data, TOP_LEVEL_KEYS, "top level")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.append("name: required")
    elif len(name) > 128:
        errors.append("name: at most 128 characters")
    description = data.get("description") or ""
    if not isinstance(description, str):
        errors.append("description: must be text")
    provider_type = data.get("provider")
    if provider_type not in ProviderType.values:
        errors.append(
            f"provider: unknown provider type {provider_type!r}; supported: "
            f"{', '.join(ProviderType.values)}"
        )
    plain = data.get("plain") or {}
    if not isinstance(plain, dict):
        errors.append("plain: must be a mapping (image, location_key, provision_type)")
        plain = {}
    errors += _unknown(plain, PLAIN_KEYS, "plain")
    provision_type = plain.get("provision_type", ProvisionType.VIRTUAL)
    if provision_type not in ProvisionType.values:
        errors.append(
            f"plain.provision_type: {provision_type!r} is not one of "
            f"{', '.join(ProvisionType.values)}"
        )
    connection = data.get("connection")
    if not isinstance(connection, dict):
        errors.append("connection: required, with token and region")
        connection = {}
    errors += _unknown(connection, CONNECTION_KEYS, "connection")
    token = connection.get("token")
    if token is not None and not isinstance(token, str):
        errors.append("connection.token: must be text")
    elif (token or "").startswith("****") and require_token:
        errors.append("connection.token: this is a masked token; paste the real token")
    elif require_token and not (token or "").strip():
        errors.append("connection.token: required (a DigitalOcean API token)")
    region = connection.get("region")
    if region not in DIGITALOCEAN_REGIONS:
        errors.append(
            f"connection.region: unknown region {region!r}; choose one of "
            f"{', '.join(DIGITALOCEAN_REGIONS)}"
        )
    inputs, input_errors = _check_inputs(data.get("inputs"))
    errors += input_errors
    if errors:
        raise ProviderYAMLError(errors)
    return {
        "name": name.strip(),
        "description": description,
        "provider_type": provider_type,
        "plain": {
            "image": plain.get("image", "DIGITALOCEAN"),
            "location_key": plain.get("location_key", "region"),
            "provision_type": provision_type,
        },
        "region": region,
        "token": (token or "").strip() or None,
        "inputs": inputs,
    }


def parse(text: str, source: str = "provider.yaml", *, require_token: bool = True) -> dict:
    return validate(load(text, source), require_token=require_token)


def dump(provider) -> str:
    """Export a provider in the document's format. The token is write-only: only its mask is
    exported, and importing or updating with the mask keeps the stored token."""
    token = provider.token_hint
    data = {
        "name": provider.name,
        "description": provider.description,
        "provider": provider.provider_type,
        "plain": provider.plain,
        "connection": {"token": token, "region": provider.region},
        "inputs": provider.inputs,
    }
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
