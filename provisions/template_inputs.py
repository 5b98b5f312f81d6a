"""A provision template's inputs: their types, their values checked and coerced, the
`${input.NAME}` references substituted, and the template's inputs joined with its provider's
(which of the provider's it uses, and for what). provisions.template_format reads and writes the
template around them."""

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from core.names import shown
from core.yesno import parse_yes_no

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

REFERENCE = re.compile(r"\$\{input\.([A-Za-z_][A-Za-z0-9_]*)\}")


class TemplateError(ValidationError):
    pass


def coerce(spec: dict, value, where: str):
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


def resolve(specs: list[dict], given: dict, unused: dict | None = None) -> dict:
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
            values[name] = coerce(spec, value, where)
        except TemplateError as exc:
            errors += exc.messages
    if errors:
        raise TemplateError(errors)
    return values


def substitute(value, values: dict, where: str):
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


def check_types(inputs) -> list[str]:
    errors = []
    for index, item in enumerate(inputs if isinstance(inputs, list) else []):
        kind = item.get("type", "text") if isinstance(item, dict) else None
        if kind is not None and kind not in TEMPLATE_INPUT_TYPES:
            errors.append(
                f"inputs[{index}].type: {shown(kind)} is not one of "
                f"{', '.join(TEMPLATE_INPUT_TYPES)}"
            )
    return errors


def references(value) -> set[str]:
    if isinstance(value, str):
        return set(REFERENCE.findall(value))
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return set().union(*(references(item) for item in items)) if items else set()


def provider_spec(spec: dict) -> dict:
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


def join(data: dict, own: list[dict], provider_inputs: list[dict] | None) -> Inputs:
    hosts = data.get("hosts") if isinstance(data.get("hosts"), dict) else {}
    referenced = references([data.get("name"), hosts, data.get("networks")])
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
    used = [provider_spec(offered[name]) for name in offered if name in uses]
    return Inputs(own=own, provider=used, uses=uses, unused=unused, fallbacks=fallbacks)
