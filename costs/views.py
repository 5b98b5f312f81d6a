"""The costs page: what the user's provisions cost this month; for operators also each
DigitalOcean token's own figure against the portal's."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, user_passes_test
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from costs import balance, reports
from costs.models import BalanceCheck
from providers.billing import Cost, month_bounds
from providers.drivers import CloudError
from provisions.models import Provision


@login_required
def summary(request):
    now = timezone.now()
    provisions = list(Provision.objects.filter(owner=request.user).order_by("id"))
    costs, unpriced = reports.by_provision(provisions, now)
    rows = [(p, costs[p.pk]) for p in provisions if p.pk in costs]
    context = {
        "rows": rows,
        "total": sum(costs.values(), Cost()),
        "unpriced": unpriced,
        "month": month_bounds(now)[0],
    }
    if request.user.is_staff:
        context["checks"] = BalanceCheck.objects.all()
        context["out_of_step"] = balance.out_of_step()
    return render(request, "costs/summary.html", context)


@login_required
@user_passes_test(lambda user: user.is_staff)
@require_POST
def balance_check(request):
    try:
        balance.check_all()
    except CloudError as exc:  # one token's failure is in its row; this is the database's
        messages.error(request, f"balance check failed: {exc}")
    else:
        messages.success(request, "Balances checked with DigitalOcean.")
    return redirect("costs:summary")
