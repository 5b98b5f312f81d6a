"""`/api/costs/`: what the user's provisions cost; `/api/provisions/ID/cost/`: one provision,
its droplets and its VMs' shares; `/api/costs/balance/`: DigitalOcean's figure against the
portal's, for operators. Routed in portal.api_urls."""

from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core import group_services
from core.api.errors import ErrorSerializer
from costs import balance, budgets, reports
from costs.models import BalanceCheck
from providers.billing import Cost
from provisions.models import Provision


class CostSerializer(serializers.Serializer):
    month_to_date = serializers.CharField(help_text="dollars this calendar month (UTC) so far")
    projected = serializers.CharField(help_text="dollars at the month's end if nothing changes")
    hourly = serializers.CharField(help_text="dollars per hour of what runs now")


class ProvisionCostSerializer(CostSerializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class SummarySerializer(CostSerializer):
    unpriced = serializers.IntegerField(help_text="droplets left out: no price known now")
    provisions = ProvisionCostSerializer(many=True)


class DropletSerializer(serializers.Serializer):
    droplet_id = serializers.CharField()
    host = serializers.CharField(source="host_name")
    size = serializers.CharField()
    price_hourly = serializers.DecimalField(max_digits=10, decimal_places=5, allow_null=True)
    price_monthly = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)


class ShareSerializer(CostSerializer):
    vm = serializers.IntegerField()
    name = serializers.CharField()
    host = serializers.CharField()


class DetailSerializer(CostSerializer):
    unpriced = serializers.IntegerField()
    droplets = DropletSerializer(many=True)
    vms = ShareSerializer(many=True, help_text="each VM's share, by the CPU and memory it reserves")
    idle = CostSerializer(help_text="what no VM reserves")


class BalanceSerializer(serializers.ModelSerializer):
    difference = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    out_of_step = serializers.SerializerMethodField()

    class Meta:
        model = BalanceCheck
        fields = [
            "providers",
            "checked_at",
            "portal_usd",
            "digitalocean_usd",
            "difference",
            "generated_at",
            "error",
            "out_of_step",
        ]

    def get_out_of_step(self, check) -> bool:
        return check in self.context["out_of_step"]


def _cost(cost: Cost | None) -> dict:
    return (cost or Cost()).as_dict()


class SummaryView(APIView):
    @extend_schema(responses={200: SummarySerializer})
    def get(self, request):
        """What the user's own provisions cost this month (DigitalOcean's prices)."""
        now = timezone.now()
        provisions = Provision.objects.filter(owner=request.user).order_by("id")
        costs, unpriced = reports.by_provision(provisions, now)
        rows = [
            {"id": p.pk, "name": p.name, **_cost(costs[p.pk])}
            for p in provisions.only("id", "name")
            if p.pk in costs
        ]
        total = sum(costs.values(), Cost())
        return Response({**_cost(total), "unpriced": unpriced, "provisions": rows})


class ProvisionCostView(APIView):
    @extend_schema(responses={200: DetailSerializer})
    def get(self, request, pk):
        """One provision's cost: its droplets, its VMs' shares and its idle capacity."""
        provision = get_object_or_404(Provision.objects.for_user(request.user), pk=pk)
        found = reports.of_provision(provision)
        return Response(
            {
                **_cost(found.cost),
                "unpriced": found.unpriced,
                "droplets": DropletSerializer(provision.meters.order_by("id"), many=True).data,
                "vms": [
                    {"vm": s.vm.pk, "name": s.vm.name, "host": s.vm.host.name, **_cost(s.cost)}
                    for s in found.shares
                ],
                "idle": _cost(found.idle),
            }
        )


class BalanceView(APIView):
    permission_classes = [permissions.IsAdminUser]

    @extend_schema(responses={200: BalanceSerializer(many=True)})
    def get(self, request):
        """Each token's month to date at DigitalOcean against the portal's (operators)."""
        context = {"out_of_step": balance.out_of_step()}
        return Response(
            BalanceSerializer(BalanceCheck.objects.all(), many=True, context=context).data
        )

    @extend_schema(request=None, responses={200: BalanceSerializer(many=True)})
    def post(self, request):
        """Check every token's balance now."""
        checks = balance.check_all()
        context = {"out_of_step": balance.out_of_step()}
        return Response(BalanceSerializer(checks, many=True, context=context).data)


class BudgetSerializer(serializers.Serializer):
    amount = serializers.CharField(help_text="dollars per calendar month")
    warn_percent = serializers.IntegerField(required=False, help_text="warn at this share (80)")
    hard_stop = serializers.BooleanField(
        required=False, help_text="refuse new droplets that would take the month past it"
    )


class BudgetStandingSerializer(BudgetSerializer):
    percent = serializers.IntegerField(help_text="the month's projection, in % of the budget")
    level = serializers.CharField(help_text="'', 'warning' or 'exceeded'")


class GroupCostSerializer(CostSerializer):
    group = serializers.CharField()
    unpriced = serializers.IntegerField()
    budget = BudgetStandingSerializer(allow_null=True)


def _group_answer(group) -> Response:
    cost, unpriced = budgets.of_group(group)
    budget = getattr(group, "budget", None)
    standing = None
    if budget is not None:
        found = budgets.Standing(budget, cost)
        standing = {
            "amount": str(budget.amount),
            "warn_percent": budget.warn_percent,
            "hard_stop": budget.hard_stop,
            "percent": found.percent,
            "level": found.level,
        }
    return Response({"group": group.name, **_cost(cost), "unpriced": unpriced, "budget": standing})


def _group(request, ref):
    """The group in the URL (ID or name), 404 for one the user is not in."""
    try:
        return group_services.find_group(request.user, ref)
    except ValidationError:
        raise Http404(f"group {str(ref)[:40]!r} not found") from None


class GroupCostView(APIView):
    """`/api/costs/groups/{id}/`: what a group's clusters cost this month, and its budget."""

    @extend_schema(responses={200: GroupCostSerializer})
    def get(self, request, pk):
        return _group_answer(_group(request, pk))

    @extend_schema(
        request=BudgetSerializer, responses={200: GroupCostSerializer, 400: ErrorSerializer}
    )
    def put(self, request, pk):
        """Set the group's budget (its admins)."""
        group = _group(request, pk)
        body = BudgetSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        budgets.set_budget(request.user, group, **body.validated_data)
        return _group_answer(type(group).objects.get(pk=group.pk))

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, pk):
        """Remove the group's budget (its admins)."""
        budgets.remove_budget(request.user, _group(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
