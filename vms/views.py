from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from core import quotas
from core.forms import errors_text
from core.group_services import chosen_group, creatable_groups
from core.groups import personal_group
from core.pages import acted
from core.units import parse_size_mb
from provisions.choices import HostState, NetworkKind, ProvisionState
from provisions.networks import networks_for
from vms import disks, lxc, placement, resize, services
from vms.choices import VM_ACTIVE, VMState
from vms.forms import ResizeForm, TemplateForm
from vms.models import VM, VMTemplate

PAGE_SIZE = 50


def _vms(request):
    return VM.objects.for_user(request.user).select_related("host", "template")


@login_required
def vm_list(request):
    queryset = _vms(request).prefetch_related("nics__port_block")
    if not request.GET.get("all"):
        queryset = queryset.exclude(state=VMState.DONE)
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "vms/list.html", {"page": page, "vms": page.object_list})


def _detail_context(vm):
    return {
        "waiting": vm.state == VMState.PENDING and vm.host_id is None,
        "vm": vm,
        "forwards": services.port_forwards(vm),
        "lines": list(vm.log.order_by("-id")[:50])[::-1],
        "busy": vm.state in VM_ACTIVE,
        "nics": vm.nics.select_related("network"),
    }


@login_required
def vm_detail(request, pk):
    vm = get_object_or_404(_vms(request), pk=pk)
    context = _detail_context(vm)
    # Who moved the VM's state and why (users, jobs, monitoring); the newest first.
    context["events"] = vm.events.order_by("-id")[:50]
    context["resize_form"] = ResizeForm.of(vm)
    if context["waiting"] and request.user.is_staff:
        cluster = placement.cluster_of(vm)
        context["deploy_hosts"] = cluster.hosts.filter(state=HostState.RUNNING) if cluster else []
    return render(request, "vms/detail.html", context)


@login_required
def vm_live(request, pk):
    vm = get_object_or_404(_vms(request), pk=pk)
    context = _detail_context(vm)
    response = render(request, "vms/partials/live.html", context)
    if not context["busy"] and request.htmx:
        return HttpResponseStopPolling(response.content)
    return response


@login_required
@require_POST
def vm_action(request, pk, action):
    vm = get_object_or_404(_vms(request), pk=pk)
    return acted(
        request,
        vm,
        lambda: services.act(request.user, vm, action),
        lambda done: f"{action} of {vm.name} requested.",
    )


@login_required
@require_POST
def vm_disk_resize(request, pk):
    vm = get_object_or_404(_vms(request), pk=pk)
    try:
        size_mb = parse_size_mb(request.POST.get("size", ""))
        disks.grow(request.user, vm, size_mb)
    except ValueError as exc:
        messages.error(request, f"Disk size: {exc}")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except lxc.LXCError as exc:
        messages.error(request, f"The disk was not grown: {exc}")
    else:
        messages.success(request, f"{vm.name}'s disk is now {size_mb} MB.")
    return redirect(vm)


@login_required
@require_POST
def vm_resize(request, pk):
    """The resize form: the service's answer in the form itself (HTMX) or as a message."""
    vm = get_object_or_404(_vms(request), pk=pk)
    form = ResizeForm.of(vm, request.POST)
    error = None
    if not form.is_valid():
        error = errors_text(form)
    else:
        try:
            vm = resize.resize(request.user, vm, **form.cleaned_data)
        except ValidationError as exc:
            error = "; ".join(exc.messages)
        except resize.HostFailed as exc:
            error = str(exc)
    if request.htmx:
        form = form if error else ResizeForm.of(vm)
        context = {"vm": vm, "resize_form": form, "resize_error": error, "resize_done": not error}
        return render(request, "vms/partials/resize.html", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"{vm.name} resized.")
    return redirect(vm)


@login_required
@require_POST
def vm_deploy(request, pk):
    """An operator places a waiting VM on the host of their choice (as `onevm deploy`)."""
    vm = get_object_or_404(_vms(request), pk=pk)
    return acted(
        request,
        vm,
        lambda: placement.deploy(request.user, vm, request.POST.get("host", "")),
        lambda done: f"{done.name} placed on {done.host.name}; deploying.",
    )


@login_required
def template_list(request):
    templates = VMTemplate.objects.for_user(request.user).select_related("image")
    return render(request, "vms/templates.html", {"templates": templates})


@login_required
@require_http_methods(["GET", "POST"])
def template_edit(request, pk):
    template = get_object_or_404(VMTemplate.objects.for_user(request.user), pk=pk)
    form = TemplateForm(request.POST or None, instance=template, user=request.user)
    status = 200
    if request.method == "POST" and form.is_valid():
        # The form's instance was changed by validation: services work on a fresh copy.
        fresh = VMTemplate.objects.get(pk=template.pk)
        try:
            services.update_template(request.user, fresh, form.changes())
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
            status = 403
        except ValidationError as exc:
            form.add_error(None, "; ".join(exc.messages))
            status = 400
        else:
            messages.success(request, f"Template {fresh.name} updated.")
            return redirect("vms:templates")
    elif request.method == "POST":
        status = 400
    return render(
        request, "vms/template_edit.html", {"template": template, "form": form}, status=status
    )


@login_required
@require_http_methods(["GET", "POST"])
def template_instantiate(request, pk):
    template = get_object_or_404(VMTemplate.objects.for_user(request.user), pk=pk)
    networks = networks_for(request.user).filter(provision__state=ProvisionState.RUNNING)
    public = [n for n in networks if n.kind == NetworkKind.PUBLIC]
    private = [n for n in networks if n.kind == NetworkKind.PRIVATE]
    error = None
    groups = creatable_groups(request.user)
    group = next((g for g in groups if str(g.pk) == request.POST.get("group")), None)
    if request.method == "POST":
        try:
            vm = services.instantiate(
                request.user,
                template.pk,
                name=request.POST.get("name", "").strip(),
                nics=[ref for ref in request.POST.getlist("nic") if ref],
                group=chosen_group(request.user, request.POST.get("group") or None),
            )
        except (ValidationError, PermissionDenied) as exc:
            error = "; ".join(getattr(exc, "messages", None) or [str(exc)])
        else:
            messages.success(request, f"VM ID: {vm.pk} ({vm.name}) is being deployed.")
            return redirect(vm)
    return render(
        request,
        "vms/instantiate.html",
        {
            "template": template,
            "public": public,
            "private": private,
            "chosen": request.POST.getlist("nic"),
            "error": error,
            "groups": groups,
            "group": group or personal_group(request.user),
            "quota_tables": quotas.for_decision(
                request.user, group or personal_group(request.user), quotas.VM_RESOURCES
            ),
        },
    )
