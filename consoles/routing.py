"""The console WebSocket routes (core.console_protocol has the same paths for the clients)."""

from channels.routing import URLRouter
from django.urls import path

from consoles.auth import ConsoleAuthMiddleware
from consoles.consumers import ConsoleConsumer, HostConsoleConsumer

websocket_urlpatterns = [
    path("ws/consoles/vms/<int:pk>/", ConsoleConsumer.as_asgi()),
    path("ws/consoles/hosts/<int:pk>/", HostConsoleConsumer.as_asgi()),
]

websocket_application = ConsoleAuthMiddleware(URLRouter(websocket_urlpatterns))
