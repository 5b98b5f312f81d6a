"""OpenAPI: the portal's API token authentication (imported by PortalConfig), the 429 every
operation may answer, and the 4xx errors every operation documents (the schema class)."""

import copy

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse

from core.api.errors import ErrorSerializer


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "core.api.auth.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token from the portal's API tokens page: "
            "`Authorization: Bearer ep_...`",
        }


RATE_LIMITED = {
    "description": "Rate limited: too many requests for this user, or too many anonymous "
    "calls or failed API tokens from this address. Retry after `Retry-After` seconds.",
    "headers": {
        "Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"},
    },
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"detail": {"type": "string"}},
                "required": ["detail"],
            }
        }
    },
}


def add_rate_limited_responses(result, generator, request, public):
    """Every operation can be throttled (DEFAULT_THROTTLE_CLASSES): say so once, here, instead
    of in every view's extend_schema (SPECTACULAR_SETTINGS' POSTPROCESSING_HOOKS)."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"].setdefault("429", copy.deepcopy(RATE_LIMITED))
    return result


# What any operation may answer besides its own success, all in core.api.errors' shape.
ERRORS = {
    "400": "Refused: the body or a parameter is invalid, or the object's state does not allow "
    "it (`detail` says why, `errors` by field)",
    "401": "No valid API token (`Authorization: Bearer ep_...`) or session",
    "403": "Not allowed: a change to an object of a group where you are a viewer, a shared "
    "object only an operator may change, an operator-only action, or a session request without "
    "its CSRF token",
    "404": "No such object, or not yours",
}
BODY_ERRORS = {"415": "The body is not JSON (`Content-Type: application/json`)"}


class AutoSchema(SpectacularAutoSchema):
    """REST_FRAMEWORK's DEFAULT_SCHEMA_CLASS: every operation documents ERRORS (and BODY_ERRORS
    when it reads a body) unless its view describes that status itself, so the schema says
    what the API answers without an extend_schema on every view."""

    def _get_response_bodies(self, direction="response"):
        # drf-spectacular's own step that builds `responses`; the errors join what it built.
        responses = super()._get_response_bodies(direction)
        errors = dict(ERRORS)
        if self.method in ("PUT", "PATCH", "POST") and self.get_request_serializer() is not None:
            errors.update(BODY_ERRORS)
        for code, description in errors.items():
            if code not in responses:
                error = OpenApiResponse(ErrorSerializer, description=description)
                responses[code] = self._get_response_for_code(error, code, direction=direction)
        return responses
