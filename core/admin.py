from django.contrib import admin
from django.db import models

from core import outbound
from core.groups import Group, Membership
from core.models import ApiToken, UserProfile
from core.quotas import Quota

# A URL typed without a scheme gets https (Django 6's default; without it, every form with a
# URLField warns of the change).
URL_FIELDS = {models.URLField: {"assume_scheme": "https"}}
# A URL the portal or a host will fetch (index, image): checked like every outbound URL, so a
# form cannot store 169.254.169.254 (core.outbound).
OUTBOUND_URL_FIELDS = {
    models.URLField: {**URL_FIELDS[models.URLField], "validators": [outbound.validate_url]}
}


class ReadOnlyAdmin(admin.ModelAdmin):
    """History and measurements (events, samples, leases): written by the portal only, so an
    operator may look but not add, change or delete (a changed history row would lie)."""

    show_full_result_count = False  # samples are many; skip the second COUNT(*)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "owner",
        "prefix",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at"]
    search_fields = ["name", "owner__username", "prefix"]
    readonly_fields = ["owner", "prefix", "created_at", "last_used_at", "revoked_at"]
    exclude = ["digest"]

    def has_add_permission(self, request):
        # Tokens are issued from the user's own page, where the raw value is shown once.
        return False


@admin.register(UserProfile)
class UserProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "key_type", "updated_at"]
    search_fields = ["user__username"]
    readonly_fields = ["user", "ssh_public_key", "updated_at"]

    @admin.display(description="SSH key")
    def key_type(self, profile):
        return profile.ssh_public_key.split(" ", 1)[0] if profile.ssh_public_key else "—"

    def has_add_permission(self, request):
        # Users set their own key (SSH key page or /api/account/ssh-key/), where it is checked.
        return False


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "role", "primary", "joined_at"]
    readonly_fields = ["joined_at"]
    autocomplete_fields = ["user"]


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    # An operator's repair tool: the rules (never without an admin, deleted only when empty)
    # live in core.group_services, which the pages, the API and the CLI go through.
    list_display = ["name", "description", "created_at"]
    search_fields = ["name", "description", "memberships__user__username"]
    readonly_fields = ["created_at"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["group", "user", "role", "primary"]
    list_filter = ["role", "primary"]
    list_select_related = ["group", "user"]
    search_fields = ["group__name", "user__username"]
    readonly_fields = ["joined_at"]
    autocomplete_fields = ["group", "user"]


@admin.register(Quota)
class QuotaAdmin(admin.ModelAdmin):
    """Limits of a user or a group; an empty limit is settings.QUOTA_DEFAULTS' for its kind."""

    list_display = ["__str__", "vms", "running_vms", "cpu", "memory_mb", "hosts", "spend"]
    list_select_related = ["user", "group"]
    search_fields = ["user__username", "group__name"]
    autocomplete_fields = ["user", "group"]
