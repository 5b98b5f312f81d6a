from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from marketplace import services
from marketplace.models import MarketplaceApp
from provisions.choices import DatastoreKind, ProvisionState
from provisions.models import Datastore, Provision


@login_required
def app_list(request):
    apps = MarketplaceApp.objects.select_related("marketplace").order_by("marketplace", "name")
    query = request.GET.get("q", "").strip()
    if query:
        apps = apps.filter(
            Q(name__icontains=query) | Q(description__icontains=query) | Q(os_id__icontains=query)
        )
    context = {"apps": apps, "q": query}
    if request.htmx and request.htmx.target == "app-rows":
        return render(request, "marketplace/partials/rows.html", context)
    return render(request, "marketplace/list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def app_detail(request, pk):
    app = get_object_or_404(MarketplaceApp.objects.select_related("marketplace"), pk=pk)
    datastores = Datastore.objects.filter(
        kind=DatastoreKind.IMAGE,
        provision__in=Provision.objects.for_user(request.user).filter(state=ProvisionState.RUNNING),
    )
    error = None
    if request.method == "POST":
        try:
            image, template = services.export_app(
                request.user,
                app.pk,
                request.POST.get("name", "").strip(),
                request.POST.get("datastore", ""),
            )
        except ValidationError as exc:
            error = "; ".join(exc.messages)
        else:
            messages.success(
                request,
                f"Exported: IMAGE ID {image.pk}, VMTEMPLATE ID {template.pk} ({template.name}).",
            )
            return redirect("vms:templates")
    return render(
        request,
        "marketplace/detail.html",
        {
            "app": app,
            "datastores": datastores,
            "error": error,
            "name": request.POST.get("name", ""),
        },
    )
