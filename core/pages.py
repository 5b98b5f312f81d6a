"""What every page form that asks an operation for something shares: the operation run, its
refusal (a ValidationError, a PermissionDenied) shown as a message on the page it came from,
its success as another, then back to a page (the POST/redirect/GET pattern)."""

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect

from core import acting


def acted(request, back, work: Callable, success: Callable[[object], str] | str, to=None):
    """Run `work()`; redirect to `back` with its refusal, or to `to(done)` (default `back`)
    with `success` (a text, or made from what `work` returned)."""
    try:
        done = work()
    except ValidationError as exc:
        acting.note_refused(" ".join(exc.messages))  # a redirect, but the change was refused
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    except PermissionDenied as exc:
        acting.note_refused(str(exc))
        messages.error(request, str(exc))
        return redirect(back)
    messages.success(request, success(done) if callable(success) else success)
    return redirect(to(done) if to else back)
