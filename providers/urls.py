from django.urls import path

from providers import views

app_name = "providers"
urlpatterns = [
    path("", views.provider_list, name="list"),
    path("new/", views.provider_create, name="create"),
    path("import/", views.provider_import, name="import"),
    path("<int:pk>/", views.provider_detail, name="detail"),
    path("<int:pk>/edit/", views.provider_edit, name="edit"),
    path("<int:pk>/delete/", views.provider_delete, name="delete"),
    path("<int:pk>/test/", views.provider_test, name="test"),
    path("<int:pk>/yaml/", views.provider_yaml, name="yaml"),
]
