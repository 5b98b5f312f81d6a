from django.urls import path

from marketplace import views

app_name = "marketplace"
urlpatterns = [
    path("", views.app_list, name="list"),
    path("<int:pk>/", views.app_detail, name="detail"),
]
