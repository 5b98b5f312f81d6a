from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from core.forms import add_validation_error
from core.tenancy import CHANGE
from providers import services, yaml_format
from providers.drivers import CloudError
from providers.filters import ProviderFilterSet
from providers.forms import ProviderForm, ProviderYAMLForm
from providers.models import Provider


def _visible(request):
    return Provider.objects.for_user(request.user)


def _get(request, pk):
    return get_object_or_404(_visible(request).select_related("owner"), pk=pk)


@login_required
def provider_list(request):
    queryset = (
        _visible(request)
        .select_related("owner")
        .annotate(provision_count=Count("provisions", filter=~Q(provisions__state="DONE")))
    )
    filterset = ProviderFilterSet(request.GET, queryset=queryset)
    context = {"providers": filterset.qs, "filter": filterset}
    if request.htmx and request.htmx.target == "provider-rows":
        return render(request, "providers/partials/rows.html", context)
    return render(request, "providers/list.html", context)


@login_required
def provider_detail(request, pk):
    provider = _get(request, pk)
    can_change = Provider.objects.for_user(request.user, CHANGE).filter(pk=pk).exists()
    return render(
        request,
        "providers/detail.html",
        {
            "provider": provider,
            "can_change": can_change,
            "yaml": yaml_format.dump(provider),
            "provisions": provider.provisions.for_user(request.user).exclude(state="DONE"),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def provider_create(request):
    form = ProviderForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            provider = services.create_provider(request.user, form.to_data())
        except ValidationError as exc:
            add_validation_error(form, exc)
        else:
            messages.success(request, f"Provider {provider.name} created (ID: {provider.pk}).")
            return redirect(provider)
    return render(request, "providers/form.html", {"form": form, "title": "New provider"})


@login_required
@require_http_methods(["GET", "POST"])
def provider_import(request):
    form = ProviderYAMLForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            provider = services.import_yaml(
                request.user, form.cleaned_data["yaml"], form.cleaned_data["source"]
            )
        except ValidationError as exc:
            add_validation_error(form, exc)
        else:
            messages.success(request, f"Provider {provider.name} created (ID: {provider.pk}).")
            return redirect(provider)
    return render(request, "providers/import.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def provider_edit(request, pk):
    provider = _get(request, pk)
    form = ProviderForm(request.POST or None, provider=provider)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_provider(request.user, provider, form.to_data())
        except PermissionDenied:
            raise
        except ValidationError as exc:
            add_validation_error(form, exc)
        else:
            messages.success(request, f"Provider {provider.name} saved.")
            return redirect(provider)
    return render(
        request,
        "providers/form.html",
        {
            "form": form,
            "title": f"Edit {provider.name}",
            "provider": provider,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def provider_delete(request, pk):
    provider = _get(request, pk)
    if request.method == "POST":
        try:
            services.delete_provider(request.user, provider)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect(provider)
        messages.success(request, f"Provider {provider.name} deleted.")
        return redirect("providers:list")
    return render(request, "providers/delete.html", {"provider": provider})


@login_required
@require_POST
def provider_test(request, pk):
    provider = _get(request, pk)
    try:
        result = services.test_connection(provider)
        context = {"ok": True, **result}
    except (CloudError, ValidationError) as exc:
        context = {
            "ok": False,
            "error": "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc),
        }
    if request.htmx:
        return render(request, "providers/partials/test_result.html", context)
    if context["ok"]:
        messages.success(request, f"Connected to DigitalOcean as {context['email']}.")
    else:
        messages.error(request, f"Connection failed: {context['error']}")
    return redirect(provider)


@login_required
def provider_yaml(request, pk):
    provider = _get(request, pk)
    response = HttpResponse(yaml_format.dump(provider), content_type="application/yaml")
    response["Content-Disposition"] = f'attachment; filename="provider-{provider.pk}.yaml"'
    return response
