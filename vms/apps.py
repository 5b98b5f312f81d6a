from django.apps import AppConfig


class VmsConfig(AppConfig):
    name = "vms"

    def ready(self):
        # provisions never imports vms; vms plugs in what provisions needs from it.
        from vms import hooks, quota_counters

        hooks.register()
        quota_counters.register()
