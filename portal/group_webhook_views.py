"""A group's webhooks on its page, for its admins: add one (its secret shown once, in the
message that answers), delete one. The rules are webhooks.services', as for the API and
`onehook`."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from core.forms import errors_text
from core.pages import acted
from portal.group_views import WebhookForm, page_of, visible_group
from webhooks import services as webhooks


@login_required
@require_POST
def webhook_create(request, pk):
    group = visible_group(request, pk)
    form = WebhookForm(request.POST)
    if not form.is_valid():
        errors = errors_text(form)
        messages.error(request, errors)
        return redirect(page_of(group))
    try:
        hook, secret = webhooks.create(
            request.user, form.cleaned_data["url"], form.cleaned_data["events"], group=group.pk
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        return redirect(page_of(group))
    messages.success(
        request,
        f"Webhook {hook.pk} added. Its signing secret, shown this once: {secret}",
    )
    return redirect(page_of(group))


@login_required
@require_POST
def webhook_delete(request, pk, hook_pk):
    group = visible_group(request, pk)
    return acted(
        request,
        page_of(group),
        lambda: webhooks.delete(request.user, webhooks.get(request.user, hook_pk)),
        f"Webhook {hook_pk} deleted.",
    )
