from django.urls import path

from costs import views

app_name = "costs"
urlpatterns = [
    path("", views.summary, name="summary"),
    path("balance/check/", views.balance_check, name="balance-check"),
]
