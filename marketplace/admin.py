from django.contrib import admin, messages

from core.admin import OUTBOUND_URL_FIELDS
from marketplace import sync
from marketplace.models import Marketplace, MarketplaceApp


@admin.register(Marketplace)
class MarketplaceAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "kind", "index_url", "synced_at", "sync_error"]
    formfield_overrides = OUTBOUND_URL_FIELDS
    actions = ["sync_now"]

    @admin.action(description="Sync apps from the index")
    def sync_now(self, request, queryset):
        for marketplace in queryset:
            try:
                ready = sync.sync(marketplace)
            except sync.SyncError as exc:
                self.message_user(request, f"{marketplace.name}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{marketplace.name}: {ready} app(s) ready")


@admin.register(MarketplaceApp)
class MarketplaceAppAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "version", "os_id", "marketplace", "state", "updated_at"]
    list_filter = ["marketplace", "state", "os_id"]
    search_fields = ["name", "description"]
    list_select_related = ["marketplace"]
    formfield_overrides = OUTBOUND_URL_FIELDS
