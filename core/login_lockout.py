"""The page django-axes shows once a login is locked out (AXES_LOCKOUT_CALLABLE)."""

import math

from axes.helpers import get_cool_off
from django.shortcuts import render


def lockout_response(request, original_response=None, credentials=None):
    # 429 like the API's throttles. Retry-After is the whole cool-off: every refused attempt
    # during a lockout starts it again. Without a cool-off only an operator unlocks.
    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else None
    minutes = max(1, math.ceil(seconds / 60)) if seconds else None
    response = render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)
    if seconds:
        response["Retry-After"] = str(seconds)
    return response
