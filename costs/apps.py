from django.apps import AppConfig


class CostsConfig(AppConfig):
    name = "costs"

    def ready(self):
        # The balance check runs after monitoring cycles; monitoring never imports costs.
        from costs import hooks

        hooks.register()
