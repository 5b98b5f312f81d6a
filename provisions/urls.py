from django.urls import path

from provisions import views
from provisions.secgroups import views as views_secgroups

app_name = "provisions"
urlpatterns = [
    path("", views.provision_list, name="list"),
    path("new/", views.provision_create, name="create"),
    path("new/template/", views.provision_from_template, name="create-template"),
    path("<int:pk>/", views.provision_detail, name="detail"),
    path("<int:pk>/live/", views.provision_live, name="live"),
    path("<int:pk>/retry/", views.provision_retry, name="retry"),
    path("<int:pk>/delete/", views.provision_delete, name="delete"),
    path("<int:pk>/repair/", views.provision_repair, name="repair"),
    path("<int:pk>/placement/", views.provision_placement, name="placement"),
    path("<int:pk>/hosts/add/", views.host_add, name="host-add"),
    path("<int:pk>/hosts/<int:host_pk>/remove/", views.host_remove, name="host-remove"),
    path("<int:pk>/networks/add/", views.network_add, name="network-add"),
    path("<int:pk>/networks/<int:network_pk>/", views.network_detail, name="network"),
    path(
        "<int:pk>/networks/<int:network_pk>/delete/",
        views.network_delete,
        name="network-delete",
    ),
    path("<int:pk>/secgroups/rules/add/", views_secgroups.rule_add, name="secgroup-rule-add"),
    path(
        "<int:pk>/secgroups/<int:group_pk>/rules/<int:index>/remove/",
        views_secgroups.rule_remove,
        name="secgroup-rule-remove",
    ),
    path(
        "<int:pk>/secgroups/<int:group_pk>/delete/",
        views_secgroups.group_delete,
        name="secgroup-delete",
    ),
]
