"""The API's default object permission: reading what one sees is allowed, changing needs the
right to change (core.tenancy), so a viewer of a group gets 403 saying so on every viewset's
PUT, PATCH, DELETE and POST action, not only where a service remembers to check."""

from rest_framework import exceptions, permissions

from core import acting, tenancy


class ChangesNeedRole(permissions.BasePermission):
    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS:
            return True
        if not hasattr(type(obj)._default_manager, "for_user"):
            return True  # not a tenant object (e.g. a marketplace app): its view decides
        if tenancy.may_change(request.user, obj):
            acting.note_target(obj)
            return True
        acting.note_target(obj)
        raise exceptions.PermissionDenied(tenancy.refusal(request.user, obj))
