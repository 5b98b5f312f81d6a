"""`/api/groups/`: groups and their members (`onegroup`)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core import group_services
from core.api import quotas as quota_api
from core.api.errors import ErrorSerializer
from core.groups import Group, Membership, Role
from core.quotas import Whose


class MemberSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username")

    class Meta:
        model = Membership
        fields = ["user", "role", "primary", "joined_at"]


class GroupSerializer(serializers.ModelSerializer):
    members = serializers.SerializerMethodField()

    class Meta:
        model = Group
        fields = ["id", "name", "description", "created_at", "members"]
        read_only_fields = ["created_at"]

    def get_members(self, group) -> list[dict]:
        rows = sorted(group.memberships.all(), key=lambda m: m.user.username)
        return MemberSerializer(rows, many=True).data


class MemberChangeSerializer(serializers.Serializer):
    user = serializers.CharField(help_text="username")
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)


class GroupViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = GroupSerializer
    queryset = Group.objects.none()  # the schema's model; requests use get_queryset
    filterset_fields = ["name"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Group.objects.none()
        return (
            group_services.visible_groups(self.request.user)
            .distinct()
            .prefetch_related("memberships__user")
            .order_by("name")
        )

    @extend_schema(request=GroupSerializer, responses={201: GroupSerializer, 400: ErrorSerializer})
    def create(self, request):
        body = GroupSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        group = group_services.create_group(
            request.user, body.validated_data["name"], body.validated_data.get("description", "")
        )
        return Response(GroupSerializer(group).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, pk=None):
        group_services.delete_group(request.user, self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=MemberChangeSerializer, responses={200: GroupSerializer, 400: ErrorSerializer}
    )
    @action(detail=True, methods=["post"])
    def members(self, request, pk=None):
        """Add a user with a role, or change their role (addadmin, deladmin)."""
        group = self.get_object()
        body = MemberChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        group_services.set_member(
            request.user, group, body.validated_data["user"], body.validated_data["role"]
        )
        return Response(GroupSerializer(self.get_queryset().get(pk=group.pk)).data)

    @extend_schema(
        request=None,
        responses={204: OpenApiResponse(description="removed"), 400: ErrorSerializer},
    )
    @action(detail=True, methods=["delete"], url_path=r"members/(?P<username>[^/]+)")
    def remove_member(self, request, pk=None, username=None):
        group = self.get_object()  # DRF's lookup: a malformed ID is a 404 too
        group_services.remove_member(request.user, group, username)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @quota_api.schema
    @action(detail=True, methods=["get"])
    def quota(self, request, pk=None):
        """What the group uses of each quota, and its limits (`onegroup show`)."""
        return quota_api.answer(Whose(group=self.get_object()))

    @quota_api.change_schema
    @quota.mapping.put
    def set_quota(self, request, pk=None):
        """Set the group's limits (operators)."""
        return quota_api.change(request, Whose(group=self.get_object()))
