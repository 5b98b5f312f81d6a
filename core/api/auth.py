"""DRF authentication with the portal's own API tokens (`Authorization: Bearer ep_...`)."""

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from core import signals
from core.api import token_failures as api_token_failures
from core.models import ApiToken, hash_token

# Writing last_used_at on every request would turn each read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower().decode() not in self.keywords:
            return None
        api_token_failures.refuse_if_blocked(request)
        try:
            token = self._valid_token(header)
        except exceptions.AuthenticationFailed:
            api_token_failures.record_failure(request)
            raise
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        # The user object is this request's own: the scope rides on it to core.tenancy.
        token.owner.token_scope = token.scope
        signals.token_used.send(sender=ApiToken, token=token, request=request)
        return token.owner, token

    def _valid_token(self, header) -> ApiToken:
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid Authorization header: expected 'Bearer <token>'."
            )
        try:
            raw = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token characters.") from None
        token = (
            ApiToken.objects.active()
            .select_related("owner", "group")
            .filter(digest=hash_token(raw))
            .first()
        )
        if token is None or not token.owner.is_active:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked API token.")
        return token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
