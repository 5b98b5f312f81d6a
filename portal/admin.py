from django.contrib import admin

from portal.models import ApiToken, UserProfile


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
