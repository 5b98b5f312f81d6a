from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from portal.forms import ApiTokenForm
from portal.models import ApiToken
from providers.models import Provider
from provisions.models import Provision
from vms.models import VM


@login_required
def dashboard(request):
    user = request.user
    counts = {
        "providers": Provider.objects.for_user(user).count(),
        "providers_ready": Provider.objects.for_user(user).exclude(token_encrypted="").count(),
        "provisions": Provision.objects.for_user(user).exclude(state="DONE").count(),
        "provisions_running": Provision.objects.for_user(user).filter(state="RUNNING").count(),
        "vms": VM.objects.for_user(user).exclude(state="DONE").count(),
        "vms_running": VM.objects.for_user(user).filter(state="RUNNING").count(),
    }
    return render(request, "portal/dashboard.html", {"counts": counts})


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request):
    form = ApiTokenForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data["expires_in_days"]
        expires = timezone.now() + timedelta(days=days) if days else None
        token, new_token = ApiToken.issue(request.user, form.cleaned_data["name"], expires)
        messages.success(request, f"Token {token.name} created. Copy it now: it is shown once.")
        form = ApiTokenForm()
    tokens = ApiToken.objects.for_user(request.user).filter(owner=request.user)
    response = render(
        request,
        "portal/api_tokens.html",
        {
            "form": form,
            "tokens": tokens,
            "new_token": new_token,
        },
    )
    if new_token:
        response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def api_token_revoke(request, pk):
    token = get_object_or_404(
        ApiToken.objects.filter(owner=request.user, revoked_at__isnull=True), pk=pk
    )
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    messages.success(request, f"Token {token.name} revoked.")
    return redirect("api-tokens")
