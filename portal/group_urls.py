from django.urls import path

from portal import group_views, group_webhook_views

app_name = "groups"
urlpatterns = [
    path("", group_views.group_list, name="list"),
    path("<int:pk>/", group_views.group_detail, name="detail"),
    path("<int:pk>/members/", group_views.member_set, name="member_set"),
    path("<int:pk>/members/remove/", group_views.member_remove, name="member_remove"),
    path("<int:pk>/delete/", group_views.group_delete, name="delete"),
    path("<int:pk>/budget/", group_views.budget_set, name="budget"),
    path("<int:pk>/webhooks/", group_webhook_views.webhook_create, name="webhook_create"),
    path(
        "<int:pk>/webhooks/<int:hook_pk>/delete/",
        group_webhook_views.webhook_delete,
        name="webhook_delete",
    ),
]
