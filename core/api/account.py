"""/api/account/ssh-key/: the caller's SSH public key (the same rule as the page)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core import sshkeys


class SSHKeySerializer(serializers.Serializer):
    ssh_public_key = serializers.CharField(allow_blank=True)


class SSHKeyView(APIView):
    @extend_schema(responses=SSHKeySerializer)
    def get(self, request):
        return Response({"ssh_public_key": sshkeys.public_key_of(request.user)})

    @extend_schema(request=SSHKeySerializer, responses=SSHKeySerializer)
    def put(self, request):
        body = SSHKeySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        key = sshkeys.set_public_key(request.user, body.validated_data["ssh_public_key"])
        return Response({"ssh_public_key": key})
