"""Records every request that may change something (POST, PUT, PATCH, DELETE) to pages, the
API and the admin, once it has been answered, with its status. Placed after Django's
authentication, so a page's user is known; the API's (a token) is set by DRF on the way in."""

import logging

from audit import recording
from core import acting

log = logging.getLogger(__name__)

SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}


class AuditMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in SAFE_METHODS:
            return self.get_response(request)
        noting = acting.begin()
        try:
            response = self.get_response(request)
            try:
                recording.record_request(request, response, acting.current())
            except Exception:
                log.exception("audit: %s %s not recorded", request.method, request.path)
            return response
        finally:
            acting.end(noting)
