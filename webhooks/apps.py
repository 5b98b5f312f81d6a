from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self):
        # core tells what happened through its signals and never imports webhooks.
        from webhooks import hooks

        hooks.register()
