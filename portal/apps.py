from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The project: settings, URLs, the dashboard and the process commands (no models)."""

    name = "portal"
    verbose_name = "Portal"
