from rest_framework.routers import DefaultRouter

from providers.api.views import ProviderViewSet
from provisions.api.views import ProvisionViewSet

app_name = "api"
router = DefaultRouter()
router.register("providers", ProviderViewSet, basename="provider")
router.register("provisions", ProvisionViewSet, basename="provision")
urlpatterns = router.urls
