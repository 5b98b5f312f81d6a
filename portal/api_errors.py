"""One error shape for the API: `{"detail": "...", "errors": {field: [messages]}}`.

The CLI prints `detail` as its one-line error, so every error carries a readable one.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, serializers
from rest_framework.views import exception_handler as drf_exception_handler


class ErrorSerializer(serializers.Serializer):
    """The error shape, for the OpenAPI schema (400/404 responses)."""

    detail = serializers.CharField()
    errors = serializers.JSONField(required=False, help_text="validation errors by field")


def _flatten(errors, path=""):
    if isinstance(errors, dict):
        for key, value in errors.items():
            sub = key if not path else f"{path}.{key}"
            if key == "non_field_errors":
                sub = path
            yield from _flatten(value, sub)
    elif isinstance(errors, list):
        for item in errors:
            yield from _flatten(item, path)
    else:
        yield f"{path}: {errors}" if path else str(errors)


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        exc = exceptions.ValidationError(detail)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        messages = list(_flatten(data))
        response.data = {"detail": "; ".join(messages), "errors": data}
    elif isinstance(data, dict) and "detail" in data:
        response.data = {"detail": str(data["detail"])}
    return response
