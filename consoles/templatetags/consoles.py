"""The VM page's console parts, without the VM views knowing about consoles."""

from django import template
from django.conf import settings

from core.console_protocol import VM_PATH

register = template.Library()

SHOWN_SESSIONS = 20


@register.simple_tag
def console_sessions(vm):
    """The VM's latest console sessions, whoever opened them (the owner sees an operator's)."""
    return list(vm.console_sessions.order_by("-id")[:SHOWN_SESSIONS])


@register.simple_tag
def console_path(vm) -> str:
    return VM_PATH.format(id=vm.pk)


@register.simple_tag
def console_limits() -> dict:
    return {
        "idle": settings.CONSOLE_IDLE_SECONDS,
        "max": settings.CONSOLE_MAX_SECONDS,
        "per_user": settings.CONSOLE_MAX_PER_USER,
    }
