"""The API's rate limits (REST_FRAMEWORK's DEFAULT_THROTTLE_CLASSES): per user when
authenticated, per client address when not. A refused call is a 429 with Retry-After."""

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from core.client_address import client_address


class _PortalRate:
    def get_rate(self):
        # DRF binds the rates when its module is imported; read them per request instead, so a
        # changed REST_FRAMEWORK setting (tests, override_settings) takes effect.
        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]

    def get_ident(self, request):
        return client_address(request)


class UserThrottle(_PortalRate, UserRateThrottle):
    """All of one user's tokens and their browser session share one budget: more tokens do not
    buy more requests."""


class AnonThrottle(_PortalRate, AnonRateThrottle):
    pass
