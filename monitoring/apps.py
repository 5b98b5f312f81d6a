from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # vms never imports monitoring; monitoring plugs in the hosts' load for placement.
        from monitoring import hooks

        hooks.register()
