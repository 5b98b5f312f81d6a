"""The group pages (`onegroup` for people): the user's groups, one group's members and what it
holds. Every change is asked of core.group_services, which decides who may; a page only shows
its answer (core.pages.acted), so the pages and the API refuse the same things."""

from django import forms
from django.apps import apps
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from core import group_services, quotas
from core.forms import add_validation_error, errors_text
from core.groups import Group, Membership, Role
from core.pages import acted
from costs import budgets
from costs.models import Budget
from webhooks.choices import WebhookEvent
from webhooks.models import Webhook

# How the page names each kind of object group_services.HELD counts; a kind added there and
# not here still shows, under its model's plural name.
HELD_NAMES = {
    "provisions.Provision": "Provisions",
    "vms.Image": "Images",
    "vms.VMTemplate": "Templates",
    "vms.VM": "VMs",
}


class GroupForm(forms.Form):
    # Only the shape of the input here: the name's rules and uniqueness live in the service.
    name = forms.CharField(max_length=64)
    description = forms.CharField(max_length=200, required=False)


class BudgetForm(forms.Form):
    amount = forms.DecimalField(
        label="Monthly budget ($)", min_value=0, max_digits=10, decimal_places=2
    )
    warn_percent = forms.IntegerField(
        label="Warn at (%)", min_value=1, max_value=100, initial=80, required=False
    )
    hard_stop = forms.BooleanField(label="Refuse new droplets that would pass it", required=False)


class WebhookForm(forms.Form):
    url = forms.CharField(label="HTTPS URL", max_length=2000)
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple
    )


class MemberForm(forms.Form):
    user = forms.CharField(max_length=150, help_text="Their username.")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


def _visible(user):
    # visible_groups joins the memberships to find the user's; counting members over that join
    # would count only the user, so the list and the page select by primary key instead.
    return Group.objects.filter(pk__in=group_services.visible_groups(user).values("pk"))


def _listed(user):
    """The user's groups with, in the one query, their member count and the user's role and
    primary mark (none for an operator outside the group)."""
    mine = Membership.objects.filter(group=OuterRef("pk"), user=user)
    return (
        _visible(user)
        .annotate(
            member_count=Count("memberships"),
            my_role=Subquery(mine.values("role")[:1]),
            my_primary=Subquery(mine.values("primary")[:1]),
        )
        .order_by("name")
    )


def _held_counts() -> dict:
    """A count per kind of object a group holds, each a subquery, so the group and all of its
    counts come in one query however many objects it holds."""
    counts = {}
    for label in group_services.HELD:
        model = apps.get_model(label)
        rows = (
            model.objects.filter(group=OuterRef("pk"))
            .order_by()
            .values("group")
            .annotate(n=Count("pk"))
            .values("n")
        )
        counts[f"held_{model._meta.model_name}"] = Coalesce(Subquery(rows), 0)
    return counts


def _held(group) -> list[tuple[str, int]]:
    shown = []
    for label in group_services.HELD:
        model = apps.get_model(label)
        name = HELD_NAMES.get(label, model._meta.verbose_name_plural)
        shown.append((name, getattr(group, f"held_{model._meta.model_name}")))
    return shown


def visible_group(request, pk):
    """The group if the user may see it; a 404 for everyone else, as for any foreign object."""
    return get_object_or_404(_visible(request.user), pk=pk)


def page_of(group):
    return reverse("groups:detail", args=[group.pk])


@login_required
@require_http_methods(["GET", "POST"])
def group_list(request):
    form = GroupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            group = group_services.create_group(
                request.user, form.cleaned_data["name"], form.cleaned_data["description"]
            )
        except ValidationError as exc:
            add_validation_error(form, exc)
        else:
            messages.success(request, f"Group {group.name} created; you are its admin.")
            return redirect(page_of(group))
    context = {"groups": _listed(request.user), "form": form}
    return render(request, "portal/groups/list.html", context)


@login_required
def group_detail(request, pk):
    group = get_object_or_404(_visible(request.user).annotate(**_held_counts()), pk=pk)
    members = list(group.memberships.select_related("user").order_by("user__username"))
    mine = next((m for m in members if m.user_id == request.user.pk), None)
    # Who sees the forms; the service checks again on every POST, so this only spares
    # non-admins buttons that would be refused.
    manages = request.user.is_staff or (mine is not None and mine.role == Role.ADMIN)
    context = {
        "group": group,
        "members": members,
        "my_role": mine.role if mine else None,
        "manages": manages,
        "held": _held(group),
        "roles": Role.choices,
        "member_form": MemberForm(),
        "quota_lines": quotas.report(quotas.Whose(group=group)),
        "quota_title": f"Quotas of group {group.name}",
    }
    context["month"], context["standing"] = _month(group)
    if manages:
        context["webhooks"] = list(Webhook.objects.filter(group=group).order_by("pk"))
        context["webhook_form"] = WebhookForm()
        found = context["standing"].budget if context["standing"] else None
        context["budget_form"] = BudgetForm(
            initial={
                "amount": found.amount,
                "warn_percent": found.warn_percent,
                "hard_stop": found.hard_stop,
            }
            if found
            else None
        )
    return render(request, "portal/groups/detail.html", context)


def _month(group):
    """The group's month, and its standing against its budget (None without one)."""
    cost = budgets.of_group(group)[0]
    budget = Budget.objects.filter(group=group).first()
    return cost, budgets.Standing(budget, cost) if budget else None


@login_required
@require_POST
def budget_set(request, pk):
    group = visible_group(request, pk)
    if request.POST.get("remove"):
        return acted(
            request,
            page_of(group),
            lambda: budgets.remove_budget(request.user, group),
            f"Budget of {group.name} removed.",
        )
    form = BudgetForm(request.POST)
    if not form.is_valid():
        errors = errors_text(form)
        messages.error(request, errors)
        return redirect(page_of(group))
    return acted(
        request,
        page_of(group),
        lambda: budgets.set_budget(request.user, group, **form.cleaned_data),
        lambda done: f"Budget of {group.name}: ${done.amount} a month.",
    )


@login_required
@require_POST
def member_set(request, pk):
    """Add a user with a role, or change a member's role (the same operation, as in the API)."""
    group = visible_group(request, pk)
    form = MemberForm(request.POST)
    if not form.is_valid():
        errors = errors_text(form)
        messages.error(request, errors)
        return redirect(page_of(group))
    username, role = form.cleaned_data["user"], form.cleaned_data["role"]
    return acted(
        request,
        page_of(group),
        lambda: group_services.set_member(request.user, group, username, role),
        lambda done: f"{done.user.username} is now {done.role} of {group.name}.",
    )


@login_required
@require_POST
def member_remove(request, pk):
    group = visible_group(request, pk)
    username = request.POST.get("user", "")
    return acted(
        request,
        page_of(group),
        lambda: group_services.remove_member(request.user, group, username),
        f"{username} removed from {group.name}.",
    )


@login_required
@require_POST
def group_delete(request, pk):
    group = visible_group(request, pk)
    return acted(
        request,
        page_of(group),
        lambda: group_services.delete_group(request.user, group),
        f"Group {group.name} deleted.",
        to=lambda done: reverse("groups:list"),
    )
