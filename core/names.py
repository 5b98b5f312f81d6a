"""The one rule for the names users give objects: providers, provisions, networks, images,
templates, VMs.

Names are shown in pages, tables, logs and CLI output and looked up by the document's commands
(`onevm show web`). So they are plain ASCII: no control character can forge a log line, no bidi
override (U+202E) can make one name look like another, and they start with a letter so a name
is never mistaken for an ID (`find` treats all digits as an ID). Provision names are narrower
still: they become droplet host names (provisions.models.NAME_PATTERN).
"""

import re

from django.core.exceptions import ValidationError

NAME_MAX_LENGTH = 64
NAME_PATTERN = rf"^[A-Za-z][A-Za-z0-9_.-]{{0,{NAME_MAX_LENGTH - 1}}}$"
NAME_RULE = f"1-{NAME_MAX_LENGTH} letters, digits, '_', '.' or '-', starting with a letter"


def shown(value, limit: int = 40) -> str:
    """A user's value fit to echo in an error: repr escapes control, bidi and surrogate
    characters (so the message can always be rendered and logged), and it is cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def name_error(name, kind: str = "name") -> str | None:
    """Why `name` breaks the rule, or None."""
    if not isinstance(name, str):
        return f"the {kind} must be text, not {type(name).__name__}"
    if not re.fullmatch(NAME_PATTERN, name):
        return f"{shown(name)} is not a valid {kind}: use {NAME_RULE}"
    return None


def check_name(name, field: str = "name", kind: str = "name") -> str:
    """`name` without surrounding blanks, or a ValidationError keyed by `field`."""
    if isinstance(name, str):
        name = name.strip()
    error = name_error(name, kind)
    if error:
        raise ValidationError({field: error})
    return name
