import dataclasses

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.http import Http404, HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core import group_services
from core.api.errors import ErrorSerializer
from core.api.ownership import OwnershipActions
from core.api.params import int_param
from core.yesno import parse_yes_no
from provisions import services, template_format
from provisions.api.serializers import (
    EstimateSerializer,
    HostSerializer,
    JobSerializer,
    LogLineSerializer,
    ProvisionCreateSerializer,
    ProvisionDetailSerializer,
    ProvisionSerializer,
    ProvisionTemplateSerializer,
    ProvisionUpdateSerializer,
    ResolvedTemplateSerializer,
)
from provisions.models import JobLogLine
from provisions.queries import (
    attach_capacity,
    attach_latest_jobs,
    detail_prefetch,
    provisions_for,
)

# A provision's hosts, jobs and log lines are whole lists (the log pages with `after`): neither
# the list's pagination nor its filters (`?state=` would 404 the provision) apply, and the
# schema then says so.
DETAIL_LIST = {"pagination_class": None, "filter_backends": []}


class ProvisionViewSet(
    OwnershipActions, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    filterset_fields = ["name", "state", "provider"]

    def get_queryset(self):
        queryset = provisions_for(self.request.user)
        if self.action != "list":
            queryset = queryset.prefetch_related(*detail_prefetch())
        return queryset

    def get_serializer_class(self):
        if self.action == "create":
            return ProvisionCreateSerializer
        return ProvisionDetailSerializer if self.action != "list" else ProvisionSerializer

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        attach_latest_jobs(page if page is not None else queryset)
        return page

    def get_object(self):
        obj = super().get_object()
        attach_latest_jobs([obj])
        return obj

    def retrieve(self, request, pk=None):
        provision = self.get_object()
        attach_capacity(provision.hosts.all())
        return Response(self.get_serializer(provision).data)

    def _detail(self, provision, code=status.HTTP_200_OK, *, spends=False):
        """The provision's detail; `spends`: an answer to what makes droplets (create, add
        host), whose cost estimate asks DigitalOcean for today's prices."""
        provision = self.get_queryset().get(pk=provision.pk)
        attach_latest_jobs([provision])
        attach_capacity(provision.hosts.all())
        context = {"request": self.request, "ask_prices": spends}
        return Response(ProvisionDetailSerializer(provision, context=context).data, status=code)

    @extend_schema(request=ProvisionCreateSerializer, responses={201: ProvisionDetailSerializer})
    def create(self, request):
        body = ProvisionCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        provision = services.create_provision(
            request.user,
            provider=data["provider"],
            name=data["name"],
            host_count=data["hosts"],
            size=data.get("size") or None,
            image=data.get("image") or None,
            placement_policy=data.get("placement_policy") or None,
            group=group_services.chosen_group(request.user, data.get("group")),
        )
        return self._detail(provision, status.HTTP_201_CREATED, spends=True)

    @extend_schema(
        request=ProvisionUpdateSerializer,
        responses={200: ProvisionDetailSerializer, 400: OpenApiResponse(ErrorSerializer)},
        description="Change the placement policy (`oneprovision update NAME "
        "--placement-policy P`): how the next VMs are placed; placed VMs stay where they are.",
    )
    def partial_update(self, request, pk=None):
        provision = self.get_object()
        body = ProvisionUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        unknown = sorted(set(request.data) - set(ProvisionUpdateSerializer().fields))
        if unknown:
            return Response(
                {
                    "detail": f"cannot change {', '.join(unknown)} of a provision; "
                    "only placement_policy"
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        services.set_placement_policy(
            request.user, provision, body.validated_data["placement_policy"]
        )
        return self._detail(provision)

    @extend_schema(
        request=ProvisionTemplateSerializer,
        responses={201: ProvisionDetailSerializer, 400: OpenApiResponse(ErrorSerializer)},
        description="Create a provision from a provision template (`oneprovision create "
        "FILE`); a bad template is a 400 naming the line or field, and nothing is created.",
    )
    @action(detail=False, methods=["post"], url_path="from-template")
    def from_template(self, request):
        data = _template_body(request)
        provision = services.create_from_template(
            request.user,
            data["template"],
            provider=data.get("provider") or None,
            user_inputs=data["user_inputs"],
            group=group_services.chosen_group(request.user, data.get("group")),
        )
        return self._detail(provision, status.HTTP_201_CREATED, spends=True)

    @extend_schema(
        parameters=[
            OpenApiParameter("provider", str, required=True, description="provider ID or name"),
            OpenApiParameter("hosts", int, description="how many droplets (default 1)"),
            OpenApiParameter("size", str, description="droplet size (the provider's default)"),
        ],
        responses={200: EstimateSerializer, 400: OpenApiResponse(ErrorSerializer)},
    )
    @action(detail=False, methods=["get"])
    def estimate(self, request):
        """What a provision's droplets would cost, at DigitalOcean's prices; creates nothing."""
        found = services.estimate_cost(
            request.user,
            provider=request.query_params.get("provider", ""),
            host_count=int_param(request, "hosts", default=1, minimum=1, maximum=10_000),
            size=request.query_params.get("size") or None,
        )
        return Response(EstimateSerializer(found.as_dict()).data)

    @extend_schema(
        request=ProvisionTemplateSerializer,
        responses={200: ResolvedTemplateSerializer, 400: OpenApiResponse(ErrorSerializer)},
        description="Check a provision template and resolve its inputs (`oneprovision "
        "validate FILE`); creates nothing.",
    )
    @action(detail=False, methods=["post"], url_path="validate-template")
    def validate_template(self, request):
        data = _template_body(request)
        _, template = services.resolve_template(
            request.user,
            data["template"],
            provider=data.get("provider") or None,
            user_inputs=data["user_inputs"],
        )
        return Response(ResolvedTemplateSerializer(dataclasses.asdict(template)).data)

    @extend_schema(
        responses={
            (200, "application/yaml"): OpenApiResponse(
                description="the provision as a provision template, which create takes back"
            )
        }
    )
    @action(detail=True, methods=["get"], url_path="template", **DETAIL_LIST)
    def template(self, request, pk=None):
        """The provision as a template (`oneprovision show --yaml`)."""
        return HttpResponse(
            template_format.dump(self.get_object()), content_type="application/yaml"
        )

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "cleanup",
                bool,
                description="also terminate the cluster's live VMs; without it a delete is "
                "refused (400, naming them) while any VM has not ended",
            ),
            OpenApiParameter(
                "force",
                bool,
                description="operators only (403 otherwise): a provision in ERROR whose cloud "
                "side is already gone is DONE at once (200) after the delete job's verification "
                "listing; 400 listing what is left in DigitalOcean otherwise",
            ),
        ],
        responses={
            200: ProvisionDetailSerializer,
            202: ProvisionDetailSerializer,
            400: OpenApiResponse(ErrorSerializer),
            403: OpenApiResponse(ErrorSerializer),
        },
        description="Queue the delete job (202), or with `force` delete at once (200).",
    )
    def destroy(self, request, pk=None):
        provision = self.get_object()
        force = _flag(request, "force")
        services.delete_provision(
            request.user, provision, cleanup=_flag(request, "cleanup"), force=force
        )
        return self._detail(provision, status.HTTP_200_OK if force else status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        parameters=[OpenApiParameter("force", bool)],
        responses={202: ProvisionDetailSerializer},
    )
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        provision = self.get_object()
        services.retry_provision(request.user, provision, force=_flag(request, "force"))
        return self._detail(provision, status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        responses={202: ProvisionDetailSerializer, 400: OpenApiResponse(ErrorSerializer)},
        description="Mend what monitoring found (drift, hosts in ERROR) with a repair job; "
        "400 when there is nothing to repair or a job is running.",
    )
    @action(detail=True, methods=["post"])
    def repair(self, request, pk=None):
        provision = self.get_object()
        services.repair_provision(request.user, provision)
        return self._detail(provision, status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        parameters=[OpenApiParameter("force", bool, description="also when not in ERROR")],
        responses={202: ProvisionDetailSerializer, 400: OpenApiResponse(ErrorSerializer)},
        description="Run every host's configuration again (a deploy job); only from ERROR "
        "unless `force`.",
    )
    @action(detail=True, methods=["post"])
    def configure(self, request, pk=None):
        provision = self.get_object()
        services.configure_provision(request.user, provision, force=_flag(request, "force"))
        return self._detail(provision, status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        responses={202: ProvisionDetailSerializer, 400: OpenApiResponse(ErrorSerializer)},
        description="Run one host's configuration again (a deploy job).",
    )
    @action(
        detail=True, methods=["post"], url_path=r"hosts/(?P<host_id>\d+)/configure", **DETAIL_LIST
    )
    def configure_host(self, request, pk=None, host_id=None):
        provision = self.get_object()
        try:
            host = provision.hosts.get(pk=host_id)
        except ObjectDoesNotExist:
            raise Http404 from None
        services.configure_provision(request.user, provision, host=host)
        return self._detail(provision, status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        responses={202: ProvisionDetailSerializer},
        description="Fence a lost (ERROR) host now and recover its VMs elsewhere (operators).",
    )
    @action(detail=True, methods=["post"], url_path=r"hosts/(?P<host_id>\d+)/fence", **DETAIL_LIST)
    def fence_host(self, request, pk=None, host_id=None):
        if not request.user.is_staff:
            raise PermissionDenied("fencing a host is for operators")
        provision = self.get_object()
        try:
            host = provision.hosts.get(pk=host_id)
        except ObjectDoesNotExist:
            raise Http404 from None
        services.fence(provision, host, request.user, reason=f"fence asked by {request.user}")
        return self._detail(provision, status.HTTP_202_ACCEPTED)

    @extend_schema(
        parameters=[
            OpenApiParameter("after", int, description="last line id seen"),
            OpenApiParameter("job", int, description="job id (default: the latest job)"),
        ],
        responses={200: LogLineSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], **DETAIL_LIST)
    def log(self, request, pk=None):
        """Log lines of the provision's jobs (the latest job unless `job` is given)."""
        provision = self.get_object()
        job_id = int_param(request, "job", minimum=1)
        after = int_param(request, "after")
        lines = JobLogLine.objects.filter(
            job__provision=provision, job_id=job_id or provision.latest_job_id
        )
        if after is not None:
            lines = lines.filter(pk__gt=after)
        return Response(LogLineSerializer(lines[:1000], many=True).data)

    @extend_schema(responses={200: JobSerializer(many=True)})
    @action(detail=True, methods=["get"], **DETAIL_LIST)
    def jobs(self, request, pk=None):
        """The provision's latest 50 jobs."""
        return Response(JobSerializer(self.get_object().jobs.all()[:50], many=True).data)

    @extend_schema(methods=["GET"], responses={200: HostSerializer(many=True)})
    @extend_schema(methods=["POST"], request=None, responses={202: ProvisionDetailSerializer})
    @action(detail=True, methods=["get", "post"], **DETAIL_LIST)
    def hosts(self, request, pk=None):
        """List the hosts, or (POST) add one."""
        provision = self.get_object()
        if request.method == "POST":
            services.add_host(request.user, provision)
            return self._detail(provision, status.HTTP_202_ACCEPTED, spends=True)
        return Response(HostSerializer(attach_capacity(provision.hosts.all()), many=True).data)

    @extend_schema(request=None, responses={202: ProvisionDetailSerializer})
    @action(detail=True, methods=["delete"], url_path=r"hosts/(?P<host_id>\d+)")
    def remove_host(self, request, pk=None, host_id=None):
        provision = self.get_object()
        try:
            host = provision.hosts.get(pk=host_id)
            services.remove_host(request.user, provision, host)
        except ObjectDoesNotExist:
            raise Http404 from None
        return self._detail(provision, status.HTTP_202_ACCEPTED)


def _template_body(request) -> dict:
    body = ProvisionTemplateSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    return body.validated_data


def _flag(request, name) -> bool:
    """`?force=yes` and the like; absent, empty or not a yes/no word is no."""
    try:
        return parse_yes_no(request.query_params.get(name, ""))
    except ValueError:
        return False
