from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from core import sshkeys, tenancy
from core.forms import ApiTokenForm, SSHKeyForm, add_validation_error
from core.groups import Role
from core.models import ApiToken
from providers.models import Provider
from provisions.choices import ProvisionState
from provisions.models import Provision
from vms.choices import VMState
from vms.models import VM


@login_required
def dashboard(request):
    user = request.user
    # One conditional aggregate per model, not one COUNT per tile: each COUNT scans all the
    # user's rows, so with 10,000 VMs two counts cost twice one (bench/portal_scale.py).
    providers = Provider.objects.for_user(user).aggregate(
        all=Count("pk"), ready=Count("pk", filter=~Q(token_encrypted=""))
    )
    provisions = (
        Provision.objects.for_user(user)
        .exclude(state=ProvisionState.DONE)
        .aggregate(alive=Count("pk"), running=Count("pk", filter=Q(state=ProvisionState.RUNNING)))
    )
    vms = (
        VM.objects.for_user(user)
        .exclude(state=VMState.DONE)
        .aggregate(alive=Count("pk"), running=Count("pk", filter=Q(state=VMState.RUNNING)))
    )
    counts = {
        "providers": providers["all"],
        "providers_ready": providers["ready"],
        "provisions": provisions["alive"],
        "provisions_running": provisions["running"],
        "vms": vms["alive"],
        "vms_running": vms["running"],
    }
    return render(request, "portal/dashboard.html", {"counts": counts})


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request):
    form = ApiTokenForm(request.POST or None, user=request.user)
    new_token = None
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data["expires_in_days"]
        expires = timezone.now() + timedelta(days=days) if days else None
        group, role = form.cleaned_data["group"], form.cleaned_data["role"] or Role.MEMBER
        try:
            if group is not None:
                tenancy.check_scope(request.user, group, role)
        except ValidationError as exc:
            add_validation_error(form, exc)
        else:
            token, new_token = ApiToken.issue(
                request.user, form.cleaned_data["name"], expires, group=group, role=role
            )
            messages.success(request, f"Token {token.name} created. Copy it now: it is shown once.")
            form = ApiTokenForm(user=request.user)
    tokens = ApiToken.objects.filter(owner=request.user).select_related("group")
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


@login_required
@require_http_methods(["GET", "POST"])
def ssh_key(request):
    """The public key every VM of this user gets in root's authorized_keys."""
    form = SSHKeyForm(request.POST or {"ssh_public_key": sshkeys.public_key_of(request.user)})
    if request.method == "POST" and form.is_valid():
        try:
            key = sshkeys.set_public_key(request.user, form.cleaned_data["ssh_public_key"])
        except ValidationError as exc:
            add_validation_error(form, exc)
        else:
            messages.success(
                request, "SSH key saved: new VMs get it." if key else "SSH key removed."
            )
            return redirect("ssh-key")
    return render(request, "portal/ssh_key.html", {"form": form})
