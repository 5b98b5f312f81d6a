"""OpenAPI 3.0 schema objects as Draft 4 JSON Schemas, one per direction of travel.

OpenAPI 3.0's schema dialect is Draft 4 plus a few words of its own, which `jsonschema` would
silently ignore; here they get their meaning:
- `nullable: true` allows null besides the declared type;
- `readOnly` properties belong to answers only: a request that sends one is wrong, and the
  property is not required of it; `writeOnly` ones, the other way round;
- OpenAPI's own formats (`uuid`, `date-time`, `uri`, addresses) are checked.
"""

import ipaddress
import uuid
from datetime import datetime
from urllib.parse import urlparse

from jsonschema import Draft4Validator, FormatChecker

REQUEST, RESPONSE = "request", "response"
_OPENAPI_ONLY = {
    "nullable",
    "readOnly",
    "writeOnly",
    "discriminator",
    "xml",
    "externalDocs",
    "example",
    "deprecated",
}


def _hidden_names(schema, hidden: str, names: set) -> set:
    """Every property name marked `hidden` (readOnly/writeOnly) anywhere in the schema."""
    if isinstance(schema, dict):
        for name, sub in (schema.get("properties") or {}).items():
            if isinstance(sub, dict) and sub.get(hidden):
                names.add(name)
        for value in schema.values():
            _hidden_names(value, hidden, names)
    elif isinstance(schema, list):
        for item in schema:
            _hidden_names(item, hidden, names)
    return names


def to_draft4(schema, direction: str):
    hidden = "readOnly" if direction == REQUEST else "writeOnly"
    # `required` may sit in another allOf branch than the property it names, so the names
    # are gathered over the whole schema first.
    return _convert(schema, hidden, _hidden_names(schema, hidden, set()))


def _convert(schema, hidden: str, hidden_names: set):
    if isinstance(schema, list):
        return [_convert(item, hidden, hidden_names) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    forbidden = []
    for key, value in schema.items():
        if key in _OPENAPI_ONLY:
            continue
        if key == "properties":
            out[key] = {}
            for name, sub in value.items():
                if isinstance(sub, dict) and sub.get(hidden):
                    forbidden.append(name)
                else:
                    out[key][name] = _convert(sub, hidden, hidden_names)
        elif key == "required":
            kept = [name for name in value if name not in hidden_names]
            if kept:
                out[key] = kept
        elif key in ("items", "not", "additionalProperties", "allOf", "anyOf", "oneOf"):
            out[key] = _convert(value, hidden, hidden_names)
        else:
            out[key] = value
    if forbidden:
        # "should not be valid under {'required': ['id']}": the request sent `id`.
        out = {"allOf": [out, *({"not": {"required": [name]}} for name in forbidden)]}
    if schema.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


FORMATS = FormatChecker(formats=())


@FORMATS.checks("uuid", raises=ValueError)
def _uuid(value) -> bool:
    return not isinstance(value, str) or bool(uuid.UUID(value))


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value) -> bool:
    if not isinstance(value, str):
        return True
    # RFC 3339 needs the date, a "T" and an offset; fromisoformat alone accepts less.
    if "T" not in value.upper() or not (value.endswith(("Z", "z")) or value[-6] in "+-"):
        raise ValueError(f"{value!r} is not an RFC 3339 date-time")
    return bool(datetime.fromisoformat(value.upper().replace("Z", "+00:00")))


@FORMATS.checks("ipv4", raises=ValueError)
def _ipv4(value) -> bool:
    return not isinstance(value, str) or bool(ipaddress.IPv4Address(value) or True)


@FORMATS.checks("ipv6", raises=ValueError)
def _ipv6(value) -> bool:
    return not isinstance(value, str) or bool(ipaddress.IPv6Address(value) or True)


@FORMATS.checks("uri")
def _uri(value) -> bool:
    return not isinstance(value, str) or bool(urlparse(value).scheme)


def validator(schema, direction: str) -> Draft4Validator:
    return Draft4Validator(to_draft4(schema, direction), format_checker=FORMATS)
