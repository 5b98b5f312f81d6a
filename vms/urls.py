from django.urls import path

from vms import views

app_name = "vms"
urlpatterns = [
    path("", views.vm_list, name="list"),
    path("<int:pk>/", views.vm_detail, name="detail"),
    path("<int:pk>/live/", views.vm_live, name="live"),
    path("<int:pk>/deploy/", views.vm_deploy, name="deploy"),
    path("<int:pk>/<str:action>/", views.vm_action, name="action"),
    path("templates/", views.template_list, name="templates"),
    path("templates/<int:pk>/edit/", views.template_edit, name="template_edit"),
    path("templates/<int:pk>/instantiate/", views.template_instantiate, name="instantiate"),
]
