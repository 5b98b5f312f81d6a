from django.urls import path

from vms import snapshot_views, views

app_name = "vms"
urlpatterns = [
    path("", views.vm_list, name="list"),
    path("<int:pk>/", views.vm_detail, name="detail"),
    path("<int:pk>/live/", views.vm_live, name="live"),
    path("<int:pk>/disk/", views.vm_disk_resize, name="disk_resize"),
    path("<int:pk>/snapshots/", snapshot_views.snapshot_create, name="snapshot_create"),
    path(
        "<int:pk>/snapshots/<int:snapshot>/revert/",
        snapshot_views.snapshot_revert,
        name="snapshot_revert",
    ),
    path(
        "<int:pk>/snapshots/<int:snapshot>/delete/",
        snapshot_views.snapshot_delete,
        name="snapshot_delete",
    ),
    path("<int:pk>/resize/", views.vm_resize, name="resize"),
    path("<int:pk>/deploy/", views.vm_deploy, name="deploy"),
    path("<int:pk>/<str:action>/", views.vm_action, name="action"),
    path("templates/", views.template_list, name="templates"),
    path("templates/<int:pk>/edit/", views.template_edit, name="template_edit"),
    path("templates/<int:pk>/instantiate/", views.template_instantiate, name="instantiate"),
]
