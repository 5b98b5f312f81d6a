"""The ASGI application, served by uvicorn (`manage.py serve`): HTTP as Django serves it, and
the consoles' WebSockets through Django Channels (consoles.routing)."""

import os
import warnings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
# Under ASGI each request runs its sync views in a thread of its own, so a persistent database
# connection would be left behind with every thread (Django's docs: disable them under ASGI).
# Only this process is affected: workers (sync, long-lived threads) keep theirs.
os.environ.setdefault("DATABASE_CONN_MAX_AGE", "0")
# WhiteNoise hands Django a file iterator that is synchronous; under ASGI Django reads it in a
# thread and warns each time. Static files here are small (htmx, css, uPlot): that is fine.
warnings.filterwarnings(
    "ignore", message="StreamingHttpResponse must consume synchronous iterators"
)

from django.core.asgi import get_asgi_application  # noqa: E402 - after the environment above

django_http = get_asgi_application()  # first: it sets Django up before the consumers import

from channels.routing import ProtocolTypeRouter  # noqa: E402

from consoles.routing import websocket_application  # noqa: E402

application = ProtocolTypeRouter({"http": django_http, "websocket": websocket_application})
