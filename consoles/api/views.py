"""One command on a host, for operators (`oneprovision host ssh PROVISION HOST -- CMD`): run over
the portal's SSH connection to the host (its pinned host key), audited as a console session
whose row holds who, from where, the exit status and byte counts, never the output."""

import shlex

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from consoles import services, targets
from consoles.choices import EndReason, Via
from core.api.errors import ErrorSerializer
from core.client_address import client_address
from hostexec.ssh import SSHError
from vms.api.views import ExecResultSerializer, ExecSerializer
from vms.lxc import warm_session

COMMAND_TIMEOUT = 300.0


class HostExecView(APIView):
    @extend_schema(
        request=ExecSerializer,
        responses={
            200: ExecResultSerializer,
            404: OpenApiResponse(ErrorSerializer, description="no such host, or not an operator"),
            409: OpenApiResponse(ErrorSerializer, description="the host has no address yet"),
            429: OpenApiResponse(ErrorSerializer, description="too many console sessions open"),
            502: OpenApiResponse(ErrorSerializer, description="the host could not be reached"),
        },
    )
    def post(self, request, pk: int):
        """Run one command on the host as root (operators only; others get a 404)."""
        body = ExecSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            target = targets.host_target(request.user, pk, term="dumb")
        except targets.NotFound as exc:
            return Response({"detail": str(exc)}, status=404)
        except targets.NotRunning as exc:
            return Response({"detail": str(exc)}, status=409)
        command = shlex.join(body.validated_data["command"])
        try:
            audit = services.open_session(request.user, target, client_address(request), Via.CLI)
        except services.LimitReached as exc:
            return Response({"detail": str(exc)}, status=429)
        try:
            with warm_session(target.host, wait=10) as session:
                result = session.run(command, timeout=COMMAND_TIMEOUT, check=False)
        except (SSHError, OSError) as exc:
            services.finish(audit.pk, EndReason.HOST_UNREACHABLE, len(command), 0)
            return Response({"detail": f"{target.label}: {exc}"}, status=502)
        services.finish(
            audit.pk,
            EndReason.EXITED,
            len(command),
            len(result.stdout) + len(result.stderr),
            exit_status=result.exit_status,
        )
        return Response(
            {"exit_status": result.exit_status, "stdout": result.stdout, "stderr": result.stderr}
        )
