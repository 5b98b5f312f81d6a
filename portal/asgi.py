"""The ASGI application, served by uvicorn (`manage.py serve`): HTTP today, WebSockets for the
consoles next (Django Channels wraps this application then)."""

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

application = get_asgi_application()
