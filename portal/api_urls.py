from rest_framework.routers import DefaultRouter

from providers.api.views import ProviderViewSet

app_name = "api"
router = DefaultRouter()
router.register("providers", ProviderViewSet, basename="provider")
urlpatterns = router.urls
