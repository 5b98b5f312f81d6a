"""The client's address: one rule for login lockouts (django-axes), API throttles and failed API
token counts, so that all three count the same client."""

import ipaddress

from django.conf import settings


def client_address(request) -> str:
    """REMOTE_ADDR, or with TRUSTED_PROXY_COUNT proxies in front, the address the outermost of
    them saw (DRF's NUM_PROXIES rule). Entries left of it were written by the client: ignored."""
    remote = request.META.get("REMOTE_ADDR", "")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0 or not forwarded:
        return remote
    hops = forwarded.split(",")
    candidate = hops[-min(proxies, len(hops))].strip()
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        # django-axes stores the address in an IP column; a mangled header must not break login.
        return remote
    return candidate
