"""Objects named the way the document's commands name them: by ID or by name."""

from django.core.exceptions import ValidationError

from core.ids import is_id


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
