"""The provider YAML of the document (`oneprovider create provider.yaml`): parse, check, export.

Parsing never saves anything: it returns clean data or raises `ProviderYAMLError` whose message
names the line (for YAML syntax) or the key (for content), and says how to fix it.
"""

import json
import re
import unicodedata

import yaml
from django.core.exceptions import ValidationError

from core.names import name_error, shown
from providers.choices import DIGITALOCEAN_REGIONS, INPUT_TYPES, ProviderType, ProvisionType

TOP_LEVEL_KEYS = {"name", "description", "provider", "plain", "connection", "inputs"}
PLAIN_KEYS = {"image", "location_key", "provision_type"}
CONNECTION_KEYS = {"token", "region"}
INPUT_KEYS = {"name", "type", "description", "options", "default", "min_value", "max_value"}
MAX_YAML_BYTES = 64 * 1024
# Bounds on what a provider stores, so no provider row can bloat every page that lists it.
MAX_DESCRIPTION = 1024
MAX_PLAIN_LENGTH = 64
MAX_TOKEN_LENGTH = 256
MAX_INPUTS = 32
MAX_OPTIONS = 100
MAX_OPTION_LENGTH = 128
MAX_INPUT_DESCRIPTION = 256
MAX_JSON_BYTES = 16 * 1024
INPUT_NAME = r"[A-Za-z_][A-Za-z0-9_]{0,63}"


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


class _Loader(yaml.SafeLoader):
    """SafeLoader without anchors and aliases: the provider format needs none, and an alias
    expands without bound (a few hundred bytes of nested aliases make gigabytes). Refusing them
    while composing, before anything is expanded, keeps a hostile file cheap to reject."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise yaml.composer.ComposerError(
                None,
                None,
                "anchors and aliases (&name, *name) are not allowed in a provider file; "
                "write each value out",
                event.start_mark,
            )
        return super().compose_node(parent, index)


def load(text: str, source: str = "provider.yaml") -> dict:
    """Parse YAML text into a mapping, with line-precise syntax errors."""
    if not isinstance(text, str):
        raise ProviderYAMLError(f"{source}: expected YAML text, not {type(text).__name__}")
    try:
        size = len(text.encode())
    except UnicodeEncodeError as exc:
        raise ProviderYAMLError(
            f"{source}: not valid text (a lone surrogate at character {exc.start + 1})"
        ) from None
    if size > MAX_YAML_BYTES:
        raise ProviderYAMLError(f"{source}: larger than {MAX_YAML_BYTES // 1024} KiB")
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, source) from None
    if not isinstance(data, dict):
        raise ProviderYAMLError(
            f"{source}: expected a mapping with name, provider, connection... at the top level"
        )
    return data


def _key(key) -> str:
    plain = isinstance(key, str) and key.isprintable() and len(key) <= 40
    return key if plain else shown(key)


def _unknown(keys, allowed, where):
    extra = sorted(_key(key) for key in keys if key not in allowed)
    if extra:
        return [
            f"{where}: unknown key(s) {', '.join(extra)}; allowed: {', '.join(sorted(allowed))}"
        ]
    return []


def _text(value, where: str, max_length: int, *, required=False, multiline=False) -> str | None:
    """Why `value` is not acceptable text for `where`, or None. Control and bidi characters are
    refused (they forge log lines and disguise text); descriptions may have line breaks."""
    if value is None or value == "":
        return f"{where}: required" if required else None
    if not isinstance(value, str):
        return f"{where}: must be text, not {type(value).__name__}"
    if len(value) > max_length:
        return f"{where}: at most {max_length} characters"
    allowed = "\r\n\t" if multiline else ""
    for char in value:
        category = unicodedata.category(char)
        if char not in allowed and (category[0] == "C" or category in ("Zl", "Zp")):
            return f"{where}: {shown(char)} is not allowed (control, format or separator)"
    return None


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _choice(value, where: str, allowed) -> list[str]:
    if not isinstance(value, str) or value not in allowed:
        return [f"{where}: {shown(value)} is not one of {', '.join(allowed)}"]
    return []


def _check_options(item: dict, where: str, input_type: str) -> list[str]:
    options = item.get("options")
    if input_type not in ("list", "list-multiple"):
        return [] if options is None else [f"{where}.options: only list inputs have options"]
    if not isinstance(options, list) or not options:
        return [f"{where}.options: a '{input_type}' input needs a list of options"]
    if len(options) > MAX_OPTIONS:
        return [f"{where}.options: at most {MAX_OPTIONS} options"]
    errors = []
    for number, option in enumerate(options):
        if _number(option):
            continue
        error = _text(option, f"{where}.options[{number}]", MAX_OPTION_LENGTH, required=True)
        if error:
            errors.append(error)
    if not errors and "default" in item and item["default"] not in options:
        errors.append(f"{where}.default: {shown(item['default'])} is not one of its options")
    return errors


def _check_bounds(item: dict, where: str) -> list[str]:
    errors = []
    for key in ("min_value", "max_value"):
        if key in item and not _number(item[key]):
            errors.append(f"{where}.{key}: must be a number")
    if errors:
        return errors
    low, high, default = item.get("min_value"), item.get("max_value"), item.get("default")
    if low is not None and high is not None and low > high:
        errors.append(f"{where}: min_value {low} is above max_value {high}")
    if default is not None and _number(default):
        if (low is not None and default < low) or (high is not None and default > high):
            errors.append(f"{where}.default: {default} is outside min_value..max_value")
    return errors


def _check_input(item, where: str) -> list[str]:
    if not isinstance(item, dict):
        return [f"{where}: must be a mapping with name and type"]
    errors = _unknown(item, INPUT_KEYS, where)
    name = item.get("name")
    if not isinstance(name, str) or not re.fullmatch(INPUT_NAME, name):
        errors.append(
            f"{where}.name: {shown(name)} is not an input name: 1-64 letters, digits and '_', "
            "starting with a letter or '_'"
        )
    input_type = item.get("type", "text")
    type_errors = _choice(input_type, f"{where}.type", INPUT_TYPES)
    errors += type_errors
    error = _text(item.get("description"), f"{where}.description", MAX_INPUT_DESCRIPTION)
    if error:
        errors.append(error)
    default = item.get("default")
    if default is not None and not (_number(default) or isinstance(default, bool)):
        error = _text(default, f"{where}.default", MAX_OPTION_LENGTH)
        if error:
            errors.append(error)
    if not type_errors:
        errors += _check_options(item, where, input_type)
    errors += _check_bounds(item, where)
    return errors


def _check_inputs(inputs) -> tuple[list, list[str]]:
    if inputs is None:
        return [], []
    if not isinstance(inputs, list):
        return [], ["inputs: must be a list of inputs ('- name: ...')"]
    if len(inputs) > MAX_INPUTS:
        return [], [f"inputs: at most {MAX_INPUTS} inputs"]
    errors = []
    for index, item in enumerate(inputs):
        errors += _check_input(item, f"inputs[{index}]")
    if errors:
        return [], errors
    names = [item["name"] for item in inputs]
    for name in sorted({n for n in names if names.count(n) > 1}):
        errors.append(f"inputs: {name!r} is defined twice")
    clean = [{k: v for k, v in item.items() if k in INPUT_KEYS} for item in inputs]
    return clean, errors


def _mapping(data: dict, key: str, what: str, errors: list, *, required=False) -> dict:
    value = data.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        errors.append(f"{key}: {'required, ' if required else ''}a mapping with {what}")
        return {}
    return value


def _check_token(token, require_token: bool) -> list[str]:
    if token is not None and not isinstance(token, str):
        return ["connection.token: must be text"]
    token = (token or "").strip()
    if token.startswith("****") and require_token:
        return ["connection.token: this is a masked token; paste the real token"]
    if require_token and not token:
        return ["connection.token: required (a DigitalOcean API token)"]
    if token and (len(token) > MAX_TOKEN_LENGTH or not re.fullmatch(r"[\x21-\x7e]+", token)):
        return [
            f"connection.token: not a DigitalOcean token (at most {MAX_TOKEN_LENGTH} "
            "printable characters, no spaces)"
        ]
    return []


def validate(data: dict, *, require_token: bool = True) -> dict:
    """Check provider data (from YAML, a form or the API) and return it normalised."""
    if not isinstance(data, dict):
        raise ProviderYAMLError(
            f"expected a mapping with name, provider, connection..., not {type(data).__name__}"
        )
    errors = _unknown(data, TOP_LEVEL_KEYS, "top level")
    name = data.get("name")
    if name is None or (isinstance(name, str) and not name.strip()):
        errors.append("name: required")
    else:
        name_problem = name_error(name.strip() if isinstance(name, str) else name)
        if name_problem:
            errors.append(f"name: {name_problem}")
    description = data.get("description") or ""
    error = _text(description, "description", MAX_DESCRIPTION, multiline=True)
    if error:
        errors.append(error)
    provider_type = data.get("provider")
    if not isinstance(provider_type, str) or provider_type not in ProviderType.values:
        errors.append(
            f"provider: unknown provider type {shown(provider_type)}; supported: "
            f"{', '.join(ProviderType.values)}"
        )
    plain = _mapping(data, "plain", "image, location_key, provision_type", errors)
    errors += _unknown(plain, PLAIN_KEYS, "plain")
    provision_type = plain.get("provision_type", ProvisionType.VIRTUAL)
    errors += _choice(provision_type, "plain.provision_type", ProvisionType.values)
    for key in ("image", "location_key"):
        error = _text(plain.get(key), f"plain.{key}", MAX_PLAIN_LENGTH)
        if error:
            errors.append(error)
    connection = _mapping(data, "connection", "token and region", errors, required=True)
    errors += _unknown(connection, CONNECTION_KEYS, "connection")
    token = connection.get("token")
    errors += _check_token(token, require_token)
    region = connection.get("region")
    if not isinstance(region, str) or region not in DIGITALOCEAN_REGIONS:
        errors.append(
            f"connection.region: unknown region {shown(region)}; choose one of "
            f"{', '.join(DIGITALOCEAN_REGIONS)}"
        )
    inputs, input_errors = _check_inputs(data.get("inputs"))
    errors += input_errors
    if errors:
        raise ProviderYAMLError(errors)
    clean_plain = {
        "image": plain.get("image") or "DIGITALOCEAN",
        "location_key": plain.get("location_key") or "region",
        "provision_type": provision_type,
    }
    stored = len(json.dumps([clean_plain, inputs]))
    if stored > MAX_JSON_BYTES:
        raise ProviderYAMLError(
            f"plain and inputs: {stored} bytes once stored; at most {MAX_JSON_BYTES}"
        )
    return {
        "name": name.strip(),
        "description": description,
        "provider_type": provider_type,
        "plain": clean_plain,
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


# What provision templates (provisions/template_format.py) share with this format, so a bad
# input or an unknown key reads the same in both files.
check_inputs = _check_inputs
unknown_keys = _unknown
text_error = _text
