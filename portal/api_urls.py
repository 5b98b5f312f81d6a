from django.urls import path
from rest_framework.routers import DefaultRouter

from audit.api.views import AuditEntryViewSet
from backups.api.recovery import RecoverView, RecoveryPolicyView
from backups.api.schedules import TemplateScheduleView, VMScheduleView
from backups.api.stores import BackupStoreViewSet
from backups.api.vm_backups import BackupListView, BackupView, RestoreView
from consoles.api.views import HostExecView
from core.api.account import SSHKeyView
from core.api.groups import GroupViewSet
from core.api.users import UserPrimaryGroupView, UserQuotaView, UserView
from costs.api.views import BalanceView, GroupCostView, ProvisionCostView, SummaryView
from marketplace.api.views import AppViewSet, MarketplaceViewSet
from monitoring.api.views import HostMonitoringView, VMMonitoringView, VMUsageView
from providers.api.views import ProviderViewSet
from provisions.api.networks import NetworkViewSet
from provisions.api.views import ProvisionViewSet
from provisions.secgroups.api import SecurityGroupViewSet
from vms.api.snapshots import SnapshotListView, SnapshotRevertView, SnapshotView
from vms.api.views import ImageViewSet, TemplateViewSet, VMViewSet
from webhooks.api.views import WebhookViewSet

app_name = "api"
router = DefaultRouter()
router.register("providers", ProviderViewSet, basename="provider")
router.register("provisions", ProvisionViewSet, basename="provision")
router.register("networks", NetworkViewSet, basename="network")
router.register("secgroups", SecurityGroupViewSet, basename="secgroup")
router.register("marketplaces", MarketplaceViewSet, basename="marketplace")
router.register("marketplaceapps", AppViewSet, basename="marketplaceapp")
router.register("images", ImageViewSet, basename="image")
router.register("templates", TemplateViewSet, basename="template")
router.register("vms", VMViewSet, basename="vm")
router.register("backupstores", BackupStoreViewSet, basename="backupstore")
router.register("groups", GroupViewSet, basename="group")
router.register("audit", AuditEntryViewSet, basename="audit")
router.register("webhooks", WebhookViewSet, basename="webhook")
urlpatterns = [
    path("account/ssh-key/", SSHKeyView.as_view(), name="ssh-key"),
    path("users/<str:username>/", UserView.as_view(), name="user"),
    path("users/<str:username>/chgrp/", UserPrimaryGroupView.as_view(), name="user-chgrp"),
    path("users/<str:username>/quota/", UserQuotaView.as_view(), name="user-quota"),
    # Before the router, so its vms/<pk>/ routes never see these.
    path("vms/<int:pk>/monitoring/", VMMonitoringView.as_view(), name="vm-monitoring"),
    path("vms/usage/", VMUsageView.as_view(), name="vm-usage"),
    path("vms/<int:pk>/snapshots/", SnapshotListView.as_view(), name="vm-snapshots"),
    path("vms/<int:pk>/snapshots/<int:snapshot>/", SnapshotView.as_view(), name="vm-snapshot"),
    path(
        "vms/<int:pk>/snapshots/<int:snapshot>/revert/",
        SnapshotRevertView.as_view(),
        name="vm-snapshot-revert",
    ),
    path("vms/<int:pk>/backups/", BackupListView.as_view(), name="vm-backups"),
    path("vms/<int:pk>/backups/<str:backup>/", BackupView.as_view(), name="vm-backup"),
    path("vms/<int:pk>/restore/", RestoreView.as_view(), name="vm-restore"),
    path("vms/<int:pk>/recover/", RecoverView.as_view(), name="vm-recover"),
    path("vms/<int:pk>/recovery-policy/", RecoveryPolicyView.as_view(), name="vm-recovery-policy"),
    path("vms/<int:pk>/backup-schedule/", VMScheduleView.as_view(), name="vm-backup-schedule"),
    path(
        "templates/<int:pk>/backup-schedule/",
        TemplateScheduleView.as_view(),
        name="template-backup-schedule",
    ),
    path("provisions/<int:pk>/cost/", ProvisionCostView.as_view(), name="provision-cost"),
    path("costs/", SummaryView.as_view(), name="costs"),
    path("costs/balance/", BalanceView.as_view(), name="cost-balance"),
    path("costs/groups/<str:pk>/", GroupCostView.as_view(), name="group-cost"),
    path("hosts/<int:pk>/monitoring/", HostMonitoringView.as_view(), name="host-monitoring"),
    path("hosts/<int:pk>/exec/", HostExecView.as_view(), name="host-exec"),
    *router.urls,
]
