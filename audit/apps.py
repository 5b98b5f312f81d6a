from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit log"

    def ready(self):
        # Logins, token uses and created objects are heard through signals, and old entries
        # are purged after each monitoring cycle: nothing below imports audit.
        from audit import hooks

        hooks.register()
