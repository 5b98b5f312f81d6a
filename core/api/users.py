"""`/api/users/{username}/`: a user's groups and roles (`oneuser show`), and their primary
group (`oneuser chgrp`). Adding to and removing from groups is the group's business
(`/api/groups/{id}/members/`)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core import group_services
from core.api import quotas as quota_api
from core.api.errors import ErrorSerializer
from core.api.ownership import ChangeGroupSerializer
from core.groups import Membership
from core.quotas import Whose


class UserGroupSerializer(serializers.ModelSerializer):
    group = serializers.CharField(source="group.name")
    group_id = serializers.IntegerField()

    class Meta:
        model = Membership
        fields = ["group_id", "group", "role", "primary"]


class UserSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="username")
    operator = serializers.BooleanField(help_text="an operator sees and changes everything")
    groups = UserGroupSerializer(many=True)


def _answer(user) -> Response:
    memberships = Membership.objects.filter(user=user).select_related("group")
    return Response(
        UserSerializer(
            {"name": user.username, "operator": user.is_staff, "groups": memberships}
        ).data
    )


class UserView(APIView):
    @extend_schema(responses={200: UserSerializer})
    def get(self, request, username):
        return _answer(group_services.visible_user(request.user, username))


class UserPrimaryGroupView(APIView):
    @extend_schema(
        request=ChangeGroupSerializer, responses={200: UserSerializer, 400: ErrorSerializer}
    )
    def post(self, request, username):
        """Make GROUP the user's primary group (where their new objects go)."""
        body = ChangeGroupSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        membership = group_services.set_primary(
            request.user, username, body.validated_data["group"]
        )
        return _answer(membership.user)


class UserQuotaView(APIView):
    @quota_api.schema
    def get(self, request, username):
        """What the user uses of each quota, and their limits (`oneuser show`)."""
        return quota_api.answer(Whose(user=group_services.visible_user(request.user, username)))

    @quota_api.change_schema
    def put(self, request, username):
        """Set the user's limits (operators)."""
        return quota_api.change(
            request, Whose(user=group_services.visible_user(request.user, username))
        )
