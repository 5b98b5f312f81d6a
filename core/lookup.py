"""Objects named the way the document's commands name them: by ID or by name."""

from django.core.exceptions import ValidationError


def is_id(ref) -> bool:
    """Whether `ref` is an ID: ASCII digits only (str.isdigit() also accepts '²', which int()
    refuses), and no more than an ID ever has (int() refuses past 4300 digits)."""
    text = str(ref)
    return text.isascii() and text.isdigit() and len(text) <= 19


def find(queryset, ref, kind: str):
    """The one object of `queryset` whose ID (all digits) or name is `ref`; a clear error (keyed
    by `kind`) when there is none or the name is ambiguous."""
    found = queryset.filter(pk=int(ref)) if is_id(ref) else queryset.filter(name=ref)
    found = list(found[:2])
    if not found:
        raise ValidationError({kind: f"{kind} {ref!r} not found"})
    if len(found) > 1:
        raise ValidationError({kind: f"{kind} name {ref!r} is ambiguous; use the ID"})
    return found[0]
