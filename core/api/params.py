"""Query parameters the API reads by hand (outside django-filter), checked the same way:
a bad value is a 400 naming the parameter, never a ValueError (500) further down."""

from rest_framework.exceptions import ValidationError

from core.ids import MAX_ID, is_whole_number


def int_param(request, name: str, *, default=None, minimum: int = 0, maximum: int = MAX_ID):
    """`?name=` as a whole number from minimum to maximum; `default` when absent or empty."""
    raw = request.query_params.get(name)
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip()
    if not is_whole_number(text, maximum) or not minimum <= int(text) <= maximum:
        raise ValidationError(
            {name: [f"must be a whole number from {minimum} to {maximum}, not {raw!r}"]}
        )
    return int(text)
