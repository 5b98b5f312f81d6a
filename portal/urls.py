from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from portal import health, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/tokens/", views.api_tokens, name="api-tokens"),
    path("account/tokens/<int:pk>/revoke/", views.api_token_revoke, name="api-token-revoke"),
    path("account/ssh-key/", views.ssh_key, name="ssh-key"),
    path("providers/", include("providers.urls")),
    path("provisions/", include("provisions.urls")),
    path("marketplace/", include("marketplace.urls")),
    path("vms/", include("vms.urls")),
    path("groups/", include("portal.group_urls")),
    path("backups/", include("backups.urls")),
    path("costs/", include("costs.urls")),
    path("audit/", include("audit.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("portal.api_urls")),
    # /healthz and /readyz: portal.health.ProbeMiddleware, ahead of host checks and sessions.
    path("metrics", health.MetricsView.as_view(), name="metrics"),
]

# JSON errors for /api/ URLs that match no route (and for crashes), HTML pages elsewhere.
handler404 = "core.api.errors.page_not_found"
handler500 = "core.api.errors.server_error"
