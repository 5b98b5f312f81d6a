"""Query parameters the API reads by hand (outside django-filter), checked the same way:
a bad value is a 400 naming the parameter, never a ValueError (500) further down."""

from rest_framework.exceptions import ValidationError

# The largest ID the databases store (a signed 64-bit integer).
MAX_ID = 2**63 - 1


def int_param(request, name: str, *, default=None, minimum: int = 0, maximum: int = MAX_ID):
    """`?name=` as a whole number from minimum to maximum; `default` when absent or empty."""
    raw = request.query_params.get(name)
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip()
    # ASCII only: str.isdigit() accepts '²', which int() refuses; and no more digits than the
    # maximum has, as int() refuses strings past 4300 digits.
    digits = text.isascii() and text.isdigit() and len(text) <= len(str(maximum))
    if not digits or not minimum <= int(text) <= maximum:
        raise ValidationError(
            {name: [f"must be a whole number from {minimum} to {maximum}, not {raw!r}"]}
        )
    return int(text)
