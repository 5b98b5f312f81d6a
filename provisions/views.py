from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from core import quotas
from core.forms import add_validation_error
from core.groups import personal_group
from jobs.states import JobState
from providers import prices
from providers.models import Provider
from provisions import hooks, services, template_format
from provisions.choices import PROVISION_TERMINAL, PlacementPolicy, ProvisionState
from provisions.forms import ProvisionForm
from provisions.models import JobLogLine
from provisions.networks import network_leases, networks_for
from provisions.queries import (
    attach_capacity,
    attach_latest_jobs,
    detail_prefetch,
    provisions_for,
)
from provisions.secgroups.views import secgroup_context
from provisions.template_forms import TemplateInputsForm

PAGE_SIZE = 50
# Only offer Repair where services.repair_provision would accept it (it checks again).
REPAIRABLE = {ProvisionState.RUNNING, ProvisionState.ERROR}
LOG_TAIL = 200


def _get(request, pk, detail=False):
    queryset = provisions_for(request.user)
    if detail:
        queryset = queryset.prefetch_related(*detail_prefetch())
    provision = get_object_or_404(queryset, pk=pk)
    attach_latest_jobs([provision])
    return provision


@login_required
def provision_list(request):
    queryset = provisions_for(request.user)
    if not request.GET.get("all"):
        queryset = queryset.exclude(state=ProvisionState.DONE)
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    attach_latest_jobs(page.object_list)
    active = any(p.state not in PROVISION_TERMINAL for p in page.object_list)
    context = {"page": page, "provisions": page.object_list, "active": active}
    if request.htmx and request.htmx.target == "provision-rows":
        response = render(request, "provisions/partials/rows.html", context)
        return response if active else HttpResponseStopPolling(response.content)
    return render(request, "provisions/list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def provision_create(request):
    """Wizard: provider -> hosts, size and image -> review -> create."""
    providers = Provider.objects.for_user(request.user).exclude(token_encrypted="")
    provider_id = request.POST.get("provider") or request.GET.get("provider")
    if not provider_id:
        return render(request, "provisions/create_provider.html", {"providers": providers})
    # Not an ID at all (`?provider=abc`): no such provider, rather than a ValueError (500).
    if not (provider_id.isascii() and provider_id.isdigit()) or len(provider_id) > 18:
        raise Http404(f"provider {provider_id!r} not found")
    provider = get_object_or_404(providers, pk=provider_id)
    form = ProvisionForm(request.POST or None, provider=provider)
    if request.method == "POST" and form.is_valid():
        if request.POST.get("confirm") != "1":
            return render(
                request,
                "provisions/create_review.html",
                {
                    "form": form,
                    "provider": provider,
                    "data": form.cleaned_data,
                    "estimate": _estimate(request.user, provider, form.cleaned_data),
                    "quota_tables": quotas.for_decision(
                        request.user, personal_group(request.user), quotas.DROPLET_RESOURCES
                    ),
                },
            )
        try:
            provision = services.create_provision(
                request.user,
                provider=provider,
                name=form.cleaned_data["name"],
                host_count=form.cleaned_data["hosts"],
                size=form.cleaned_data["size"],
                image=form.cleaned_data["image"],
                placement_policy=form.cleaned_data.get("placement_policy") or None,
            )
        except ValidationError as exc:
            add_validation_error(form, exc)
        else:
            messages.success(
                request, f"Provision {provision.name} created (ID: {provision.pk}); deploying."
            )
            return redirect(provision)
    return render(request, "provisions/create_form.html", {"form": form, "provider": provider})


def _estimate(user, provider, data):
    try:
        return services.estimate_cost(
            user, provider=provider, host_count=data["hosts"], size=data.get("size") or None
        )
    except ValidationError:
        return None  # the review says the price is unknown; create checks the size itself


MAX_TEMPLATE_UPLOAD = 64 * 1024  # as the YAML loader's own limit


def _template_text(request) -> str:
    upload = request.FILES.get("template_file")
    if upload is not None:
        if upload.size > MAX_TEMPLATE_UPLOAD:
            raise template_format.TemplateError("the uploaded template is larger than 64 KiB")
        try:
            return upload.read().decode()
        except UnicodeDecodeError:
            raise template_format.TemplateError("the uploaded template is not UTF-8 text") from None
    return request.POST.get("template", "")


@login_required
@require_http_methods(["GET", "POST"])
def provision_from_template(request):
    """A provision from a pasted or uploaded provision template: the template (and, if wanted,
    another provider than its own) first, then a form built from its inputs and the provider's
    inputs it uses (filled with their defaults), then create."""
    chosen = request.POST.get("provider", "").strip()
    context = {
        "template": "",
        "errors": [],
        "form": None,
        "chosen": chosen,
        "providers": Provider.objects.for_user(request.user).exclude(token_encrypted=""),
    }
    if request.method == "POST":
        try:
            text = _template_text(request)
            context["template"] = text
            provider = services.template_provider(request.user, text, chosen or None)
            inputs = template_format.form_inputs(
                text, provider=chosen or None, provider_inputs=provider.inputs
            )
        except ValidationError as exc:
            context["errors"] = exc.messages
            return render(request, "provisions/create_template.html", context)
        creating = request.POST.get("step") == "create"
        form = TemplateInputsForm(request.POST if creating else None, inputs=inputs)
        context.update(form=form, provider=provider)
        if creating and form.is_valid():
            try:
                provision = services.create_from_template(
                    request.user, text, provider=chosen or None, user_inputs=form.user_inputs()
                )
            except ValidationError as exc:
                context["errors"] = exc.messages
            else:
                messages.success(
                    request, f"Provision {provision.name} created (ID: {provision.pk}); deploying."
                )
                return redirect(provision)
    return render(request, "provisions/create_template.html", context)


def _live_context(provision):
    job = provision.latest_job
    lines = []
    if job is not None:
        lines = list(JobLogLine.objects.filter(job=job).order_by("-id")[:LOG_TAIL])[::-1]
    return {
        "provision": provision,
        "job": job,
        "lines": lines,
        "steps": _steps(job),
        "terminal": provision.state in PROVISION_TERMINAL
        and (job is None or job.state in (JobState.SUCCESS, JobState.FAILED)),
    }


def _steps(job):
    if job is None:
        return []
    from provisions import runs
    from provisions.choices import JobKind

    names = {
        JobKind.DELETE: runs.DeleteRun.steps,
        JobKind.REMOVE_HOST: runs.RemoveHostRun.steps,
    }.get(job.kind, runs.DeployRun.steps)
    steps = []
    for index, name in enumerate(names):
        if index < job.steps_done or job.state == JobState.SUCCESS:
            status = "done"
        elif index == job.steps_done and job.state == JobState.RUNNING:
            status = "running"
        elif index == job.steps_done and job.state == JobState.FAILED:
            status = "failed"
        else:
            status = "pending"
        steps.append({"name": name, "status": status})
    return steps


@login_required
def provision_detail(request, pk):
    provision = _get(request, pk, detail=True)
    context = _live_context(provision)
    context["events"] = provision.events.select_related("actor").order_by("-id")[:20]
    context["networks"] = networks_for(request.user).filter(provision=provision)
    context.update(secgroup_context(request.user, provision))
    context["repair"] = services.needs_repair(provision)
    context["can_repair"] = provision.state in REPAIRABLE
    context["hosts"] = attach_capacity(provision.hosts.all())
    context["policies"] = PlacementPolicy.choices
    context["host_price"] = prices.estimate(provision.provider, provision.size, 1, ask=False)
    return render(request, "provisions/detail.html", context)


@login_required
@require_POST
def provision_placement(request, pk):
    return _act(
        request,
        pk,
        lambda p: services.set_placement_policy(request.user, p, request.POST.get("policy")),
        "Placement policy of {name} changed; it applies to the next VMs placed.",
    )


@login_required
def provision_live(request, pk):
    """The polled fragment: state, progress bar, steps and log tail."""
    provision = _get(request, pk)
    context = _live_context(provision)
    response = render(request, "provisions/partials/live.html", context)
    if context["terminal"] and request.htmx:
        return HttpResponseStopPolling(response.content)
    return response


def _act(request, pk, action, success):
    provision = _get(request, pk)
    try:
        action(provision)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, success.format(name=provision.name))
    return redirect(provision)


@login_required
@require_POST
def provision_retry(request, pk):
    return _act(
        request,
        pk,
        lambda p: services.retry_provision(request.user, p),
        "Retrying {name} from the step that failed.",
    )


@login_required
@require_http_methods(["GET", "POST"])
def provision_repair(request, pk):
    """The drift banner's Repair posts here; the review page (also its GET) confirms with
    confirm=1, as the create wizard's review does."""
    if request.method == "GET" or request.POST.get("confirm") != "1":
        provision = _get(request, pk, True)
        return render(
            request,
            "provisions/repair.html",
            {
                "provision": provision,
                "repair": services.needs_repair(provision),
                "can_repair": provision.state in REPAIRABLE,
            },
        )
    return _act(
        request,
        pk,
        lambda p: services.repair_provision(request.user, p),
        "Repairing {name}: droplets checked against DigitalOcean, hosts configured again.",
    )


# The delete confirmation lists the VMs a cleanup would terminate; past this many, a count.
VMS_LISTED = 20


@login_required
@require_http_methods(["GET", "POST"])
def provision_delete(request, pk):
    if request.method == "GET":
        provision = _get(request, pk, True)
        vm_total = sum(hooks.cluster_vm_count(provision))
        vm_names = [n for found in hooks.cluster_vm_names(provision, VMS_LISTED) for n in found]
        context = {
            "provision": provision,
            "vm_total": vm_total,
            "vm_names": vm_names,
            "vm_unlisted": vm_total - len(vm_names),
        }
        return render(request, "provisions/delete.html", context)
    cleanup = request.POST.get("cleanup") == "1"
    return _act(
        request,
        pk,
        lambda p: services.delete_provision(request.user, p, cleanup=cleanup),
        "Deleting {name}: droplets, firewall, VPC and SSH key.",
    )


@login_required
@require_POST
def host_add(request, pk):
    return _act(
        request, pk, lambda p: services.add_host(request.user, p), "Adding a host to {name}."
    )


@login_required
@require_POST
def host_remove(request, pk, host_pk):
    def remove(provision):
        host = get_object_or_404(provision.hosts.all(), pk=host_pk)
        services.remove_host(request.user, provision, host)

    return _act(request, pk, remove, "Removing the host from {name}.")


@login_required
@require_POST
def network_add(request, pk):
    def add(provision):
        services.create_network(
            request.user,
            provision,
            name=request.POST.get("name", ""),
            address_range=request.POST.get("address_range", "").strip() or None,
        )

    return _act(request, pk, add, "Private network added to {name}; configuring the hosts.")


@login_required
def network_detail(request, pk, network_pk):
    network = get_object_or_404(networks_for(request.user), provision_id=pk, pk=network_pk)
    leases = network_leases(network)
    return render(request, "provisions/network.html", {"network": network, "leases": leases})


@login_required
@require_POST
def network_delete(request, pk, network_pk):
    network = get_object_or_404(networks_for(request.user), provision_id=pk, pk=network_pk)
    try:
        services.delete_network(request.user, network)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("provisions:network", pk, network_pk)
    messages.success(request, f"Network {network.name} deleted; the hosts drop its VXLAN segment.")
    return redirect("provisions:detail", pk)
