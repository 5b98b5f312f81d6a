"""Monitoring for other apps' pages, without their Python importing monitoring (it builds on
them): `{% load monitoring %}`, then `{% latest_vm_sample vm as latest %}`, `{{ n|human_bytes }}`
and `{{ mib|human_mib }}`; `{% include "monitoring/assets.html" %}` brings the chart code."""

from datetime import UTC, datetime

from django import template

from core.units import human_bytes as _human_bytes
from monitoring import series

register = template.Library()


@register.simple_tag
def latest_vm_sample(vm):
    """The VM's newest sample (series.latest_vm, one query), with `when` as a datetime."""
    latest = series.latest_vm(vm)
    if latest is not None:
        latest["when"] = datetime.fromtimestamp(latest["at"], tz=UTC)
    return latest


@register.filter
def human_bytes(value) -> str:
    return _human_bytes(value)


@register.filter
def human_mib(value) -> str:
    return _human_bytes(None if value is None else float(value) * 1024 * 1024)
