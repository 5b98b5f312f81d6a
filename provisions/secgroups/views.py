"""The provision page's security groups: the default rules (shown, never editable), the
groups' rules, a form to add a rule, and confirmation pages to remove a rule or a whole
group. Every change is a
provisions.secgroups.services call, so the page refuses exactly what the API refuses."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from provisions import firewall_rules
from provisions.queries import provisions_for
from provisions.secgroups import services as secgroup_services


def _shown(rule: dict) -> dict:
    return {**rule, "addresses": (rule.get("sources") or {}).get("addresses", [])}


def secgroup_context(user, provision) -> dict:
    """What the provision page shows of its firewall."""
    try:
        defaults = [_shown(r) for r in firewall_rules.rules_for(provision).inbound]
    except firewall_rules.UnknownVPCRange:
        defaults = []
    groups = secgroup_services.groups_for(user).filter(provision=provision)
    return {
        "firewall_defaults": defaults,
        "security_groups": [{"group": g, "rules": [_shown(r) for r in g.rules]} for g in groups],
    }


def _provision(request, pk):
    return get_object_or_404(provisions_for(request.user), pk=pk)


def _group(request, pk, group_pk):
    return get_object_or_404(
        secgroup_services.groups_for(request.user), provision_id=pk, pk=group_pk
    )


@login_required
@require_POST
def rule_add(request, pk):
    """Add one rule to the named group, making the group if it is new."""
    provision = _provision(request, pk)
    post = request.POST
    rule = {
        "protocol": post.get("protocol", ""),
        "ports": post.get("ports", "").strip() or None,
        "sources": post.get("sources", "").replace(",", " ").split(),
    }
    name = post.get("group", "").strip()
    group = provision.security_groups.filter(name=name).first()
    try:
        if group is None:
            secgroup_services.create_group(request.user, provision, name=name, rules=[rule])
        else:
            secgroup_services.update_group(request.user, group, rules=[*group.rules, rule])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Rule added to {name}; updating the firewall.")
    return redirect(provision)


@login_required
@require_http_methods(["GET", "POST"])
def rule_remove(request, pk, group_pk, index):
    """GET (the Remove link) asks for confirmation; the POST with confirm=1 removes."""
    group = _group(request, pk, group_pk)
    if not 0 <= index < len(group.rules):
        raise Http404("no such rule")
    rule = _shown(group.rules[index])
    if request.method == "GET" or request.POST.get("confirm") != "1":
        return render(
            request, "provisions/secgroup_rule_remove.html", {"group": group, "rule": rule}
        )
    rules = [r for i, r in enumerate(group.rules) if i != index]
    try:
        secgroup_services.update_group(request.user, group, rules=rules)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Rule removed from {group.name}; updating the firewall.")
    return redirect(group.provision)


@login_required
@require_http_methods(["GET", "POST"])
def group_delete(request, pk, group_pk):
    """GET (the Delete link) asks for confirmation, listing what the firewall stops allowing;
    the POST with confirm=1 deletes the group and starts the firewall job."""
    group = _group(request, pk, group_pk)
    if request.method == "GET" or request.POST.get("confirm") != "1":
        rules = [_shown(r) for r in group.rules]
        return render(request, "provisions/secgroup_delete.html", {"group": group, "rules": rules})
    provision, name = group.provision, group.name
    try:
        secgroup_services.delete_group(request.user, group)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Security group {name} deleted; updating the firewall.")
    return redirect(provision)
