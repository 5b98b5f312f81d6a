from django.apps import AppConfig


class ProvisionsConfig(AppConfig):
    name = "provisions"

    def ready(self):
        from provisions import quota_counters

        quota_counters.register()
