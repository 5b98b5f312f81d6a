from django.apps import AppConfig


class BackupsConfig(AppConfig):
    name = "backups"

    def ready(self):
        # vms never imports backups: backups plugs its jobs into vms' (vms/jobhooks.py).
        from backups import hooks

        hooks.register()
