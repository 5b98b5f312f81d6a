"""Who is at the other end of a console WebSocket.

Two ways in, never mixed:
- the CLI sends `Authorization: Bearer <API token>`, checked by the API's own
  ApiTokenAuthentication (same tokens, same failed-attempt counting per address). A browser
  cannot put that header on a WebSocket, so this path needs no Origin check;
- the page relies on its session cookie, which a browser sends from any site's page too: that
  path goes through channels' AllowedHostsOriginValidator (the WebSocket's CSRF check), which
  refuses the handshake unless Origin is one of ALLOWED_HOSTS.
A request that carries an Authorization header is judged by it alone: a wrong token never falls
back to the cookie.
"""

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.auth.models import AnonymousUser
from django.http.request import HttpHeaders
from rest_framework import exceptions

from consoles.choices import Via
from core.api.auth import ApiTokenAuthentication
from core.client_address import client_address


class _RequestLike:
    """The part of an HttpRequest that token authentication and client_address read."""

    def __init__(self, scope):
        headers = {name.decode("latin1").lower(): value for name, value in scope["headers"]}
        client = scope.get("client") or ("", 0)
        self.META = {"REMOTE_ADDR": client[0] or ""}
        if "authorization" in headers:
            self.META["HTTP_AUTHORIZATION"] = headers["authorization"].decode("latin1")
        if "x-forwarded-for" in headers:
            self.META["HTTP_X_FORWARDED_FOR"] = headers["x-forwarded-for"].decode("latin1")
        self.headers = HttpHeaders(self.META)


def scope_address(scope) -> str:
    return client_address(_RequestLike(scope))


def token_user(scope):
    """(user, None) or (AnonymousUser, why not)."""
    try:
        found = ApiTokenAuthentication().authenticate(_RequestLike(scope))
    except (exceptions.AuthenticationFailed, exceptions.Throttled) as exc:
        return AnonymousUser(), str(exc.detail)
    if found is None:
        return AnonymousUser(), "send the API token as 'Authorization: Bearer <token>'"
    return found[0], None


class ConsoleAuthMiddleware:
    def __init__(self, inner):
        self.inner = inner
        self.by_session = AllowedHostsOriginValidator(AuthMiddlewareStack(inner))

    async def __call__(self, scope, receive, send):
        if any(name.lower() == b"authorization" for name, _ in scope.get("headers", [])):
            user, problem = await database_sync_to_async(token_user)(scope)
            scope = dict(scope, user=user, console_via=Via.CLI, auth_problem=problem)
            return await self.inner(scope, receive, send)
        scope = dict(scope, console_via=Via.BROWSER, auth_problem=None)
        return await self.by_session(scope, receive, send)
