from django.urls import path

from backups import views

app_name = "backups"
urlpatterns = [
    path("stores/", views.store_list, name="stores"),
    path("stores/<int:pk>/delete/", views.store_delete, name="store_delete"),
    path("vms/<int:pk>/", views.backup_create, name="create"),
    path("vms/<int:pk>/schedule/", views.backup_schedule, name="schedule"),
    path("vms/<int:pk>/recovery-policy/", views.recovery_policy, name="recovery_policy"),
    path("vms/<int:pk>/recover/", views.recover, name="recover"),
    path("vms/<int:pk>/<int:backup>/restore/", views.backup_restore, name="restore"),
    path("vms/<int:pk>/<int:backup>/restore-as/", views.backup_restore_as, name="restore_as"),
    path("vms/<int:pk>/<int:backup>/delete/", views.backup_delete, name="delete"),
]
