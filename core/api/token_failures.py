"""Failed API token attempts, counted per client address in Django's cache.

DRF authenticates before it throttles, so a guessed token is answered 401 before any throttle
sees it; ApiTokenAuthentication asks here first and reports every failure here.
"""

import math
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.exceptions import Throttled

from core.client_address import client_address

# Tests move this clock instead of sleeping.
now = time.time


def _keys(request):
    address = client_address(request)
    return f"api-token-failures:{address}", f"api-token-blocked:{address}"


def refuse_if_blocked(request) -> None:
    """429 for an address over the limit, before its token is even looked up: were a right token
    let through, the answers would tell a guesser which guess was right, and guessing would go on
    at full speed. The owner of a right token on that address waits out the window too."""
    _, blocked_key = _keys(request)
    until = cache.get(blocked_key)
    if until is None:
        return
    wait = until - now()
    if wait > 0:
        raise Throttled(
            wait=max(1, math.ceil(wait)),
            detail="Too many failed API token attempts from this address.",
        )


def record_failure(request) -> None:
    window = settings.API_TOKEN_FAILURE_WINDOW
    count_key, blocked_key = _keys(request)
    # add + incr are atomic in every cache backend; get + set would lose concurrent failures.
    cache.add(count_key, 0, timeout=window)
    try:
        count = cache.incr(count_key)
    except ValueError:  # the window ran out between add and incr
        cache.set(count_key, 1, timeout=window)
        count = 1
    if count >= settings.API_TOKEN_FAILURE_LIMIT:
        cache.set(blocked_key, now() + window, timeout=window)
        cache.delete(count_key)
