"""One error shape for the API: `{"detail": "...", "errors": {field: [messages]}}`.

The CLI prints `detail` as its one-line error, so every error carries a readable one: the
exceptions views and services raise, deleting something still in use, a body past Django's
size limit, and the URLs under /api/ that match no route at all.
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError, RestrictedError
from django.http import JsonResponse
from django.views import defaults
from rest_framework import exceptions, serializers
from rest_framework.views import exception_handler as drf_exception_handler

API_PREFIX = "/api/"


class ErrorSerializer(serializers.Serializer):
    """An error: `detail` is one readable line, `errors` the validation errors by field."""

    detail = serializers.CharField(help_text="what went wrong, in one line (the CLI prints it)")
    errors = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text="validation errors: messages by field, nested as the body is; "
        "non_field_errors for the request as a whole",
    )


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


def _in_use(exc: ProtectedError | RestrictedError) -> exceptions.ValidationError:
    """Deleting what others still point at (an image its templates or VMs use): say who."""
    objects = getattr(exc, "protected_objects", None) or getattr(exc, "restricted_objects", ())
    users = sorted({f"{obj._meta.verbose_name} {obj}" for obj in objects})
    shown = ", ".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5 else "")
    return exceptions.ValidationError(f"still in use by {shown}; delete those first")


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, ProtectedError | RestrictedError):
        exc = _in_use(exc)
    elif isinstance(exc, RequestDataTooBig):
        # Django's own limit, met when DRF reads the body: its 400 would be an HTML page.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        exc = exceptions.ParseError(f"request body larger than {limit} bytes")
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        messages = list(_flatten(data))
        # A list (a service's or a non-object body's errors) belongs to no field.
        errors = data if isinstance(data, dict) else {"non_field_errors": data}
        response.data = {"detail": "; ".join(messages), "errors": errors}
    elif isinstance(data, dict) and "detail" in data:
        response.data = {"detail": str(data["detail"])}
    return response


def page_not_found(request, exception):
    """handler404: JSON under /api/ (a URL no route matches), the HTML page elsewhere."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    """handler500: the CLI shows a line instead of an HTML page; the traceback is logged."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse(
            {"detail": "internal error in the portal; its log has the details"}, status=500
        )
    return defaults.server_error(request)
