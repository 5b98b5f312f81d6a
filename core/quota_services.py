"""Setting quotas (`onegroup quota`, `oneuser quota`, the API): operators only.

Group admins see their group's quotas but do not set them: every user is the admin of their
own personal group, so a quota its admin could raise would limit nobody.
"""

from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError

from core.quotas import BY_NAME, Quota, Whose, report
from core.tenancy import scope_of

SET_BY = "only an operator sets quotas; ask one"
MOST = {"cpu": Decimal("100000"), "spend": Decimal("99999999")}


def _value(name: str, raw):
    """One limit as given (None or "" or "default": the default), checked."""
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in ("", "default")):
        return None
    resource = BY_NAME[name]
    if isinstance(raw, bool):
        raise ValidationError({name: f"{resource.label} is a number, not {raw!r}"})
    try:
        number = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ValidationError(
            {name: f"{resource.label} must be a number (or empty for the default), not {raw!r}"}
        ) from None
    if not number.is_finite() or number < 0:
        raise ValidationError({name: f"{resource.label} must be 0 or more"})
    if name in MOST:
        if number > MOST[name] or number != number.quantize(Decimal("0.01")):
            raise ValidationError(
                {name: f"{resource.label} takes at most 2 decimals, up to {MOST[name]}"}
            )
        return number
    if number != number.to_integral_value():
        raise ValidationError({name: f"{resource.label} must be a whole number"})
    if number > 2**62:
        raise ValidationError({name: f"{resource.label} is too large"})
    return int(number)


def set_quota(user, whose: Whose, values: dict) -> Quota:
    """Set the limits named in `values` ({resource: limit or None}); others stay. Every field
    is checked before anything is written."""
    if not user.is_staff or scope_of(user) is not None:  # a group-limited token: not even one
        raise PermissionDenied(SET_BY)
    unknown = sorted(set(values) - set(BY_NAME))
    if unknown:
        raise ValidationError(
            {name: f"no such quota; use {', '.join(BY_NAME)}" for name in unknown}
        )
    checked, errors = {}, {}
    for name, raw in values.items():
        try:
            checked[name] = _value(name, raw)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    quota, _ = Quota.objects.get_or_create(**{whose.kind: whose.group or whose.user})
    for name, value in checked.items():
        setattr(quota, name, value)
    quota.save()
    return quota


def lines(whose: Whose) -> list[dict]:
    return [line.as_dict() for line in report(whose)]
