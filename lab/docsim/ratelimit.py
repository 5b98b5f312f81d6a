"""DigitalOcean's rate limits, per token, as sliding windows (not resets at the minute or hour).

The official facts (lab/docsim/contract/README.md): 5,000 requests per hour and 250 per minute
per token, each request counting for an hour (a minute) from when it was made; only 10
`GET /v2/account/keys` per 60 s. The `ratelimit-*` headers describe the hourly window, with
`ratelimit-reset` the time its *oldest* counted request expires; the per-minute burst limit is
not in the headers, so clients meet it as a 429 carrying `retry-after`.

Only requests that were let through count: a refused one does not (otherwise a client honouring
`retry-after` with a few retries in flight could keep itself locked out).
`Options.rate_time_scale` shrinks every window (0.01: a minute lasts 0.6 s, an hour 36 s) so
tests see the real behaviour without waiting for it; the limits themselves stay the real ones.
"""

import math
import threading
import time
from collections import deque
from dataclasses import dataclass

MINUTE = 60.0
HOUR = 3600.0


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # Unix time (s) the oldest request counted in the hourly window expires
    retry_after: int | None = None  # whole seconds, on a refusal only
    why: str = ""

    def headers(self) -> dict[str, int]:
        headers = {
            "ratelimit-limit": self.limit,
            "ratelimit-remaining": self.remaining,
            "ratelimit-reset": self.reset,
        }
        if self.retry_after is not None:
            headers["retry-after"] = self.retry_after
        return headers


class RateLimiter:
    def __init__(self, options, clock=time.time):
        self.options = options
        self.clock = clock  # wall-clock seconds: ratelimit-reset is an absolute Unix time
        self.lock = threading.Lock()
        self.hour: dict[str, deque] = {}
        self.minute: dict[str, deque] = {}
        self.key_listings: dict[str, deque] = {}

    def _lengths(self) -> tuple[float, float]:
        scale = self.options.rate_time_scale
        return HOUR * scale, MINUTE * scale

    @staticmethod
    def _live(windows: dict, token: str, now: float, length: float) -> deque:
        window = windows.setdefault(token, deque())
        while window and window[0] + length <= now:
            window.popleft()
        return window

    def take(self, token: str, *, listing_keys: bool = False) -> Verdict:
        """Count one request of `token` if every window has room; say so either way."""
        o = self.options
        now = self.clock()
        hour_length, minute_length = self._lengths()
        with self.lock:
            hour = self._live(self.hour, token, now, hour_length)
            minute = self._live(self.minute, token, now, minute_length)
            keys = self._live(self.key_listings, token, now, minute_length)
            free_at, why = None, ""
            if len(hour) >= o.rate_limit_hour:
                free_at, why = hour[0] + hour_length, "hourly"
            elif len(minute) >= o.rate_limit_minute:
                free_at, why = minute[0] + minute_length, "per-minute"
            elif listing_keys and len(keys) >= o.keys_list_limit:
                free_at, why = keys[0] + minute_length, "GET /v2/account/keys"
            if free_at is None:
                hour.append(now)
                minute.append(now)
                if listing_keys:
                    keys.append(now)
            verdict = self._verdict(hour, now, hour_length, free_at is None)
        if free_at is None:
            return verdict
        return Verdict(
            allowed=False,
            limit=verdict.limit,
            remaining=verdict.remaining,
            reset=verdict.reset,
            retry_after=max(1, math.ceil(free_at - now)),
            why=why,
        )

    def peek(self, token: str) -> Verdict:
        """The headers for a request that is not counted (a 401: no account to charge)."""
        now = self.clock()
        hour_length, _ = self._lengths()
        with self.lock:
            return self._verdict(self._live(self.hour, token, now, hour_length), now, hour_length)

    def spend(self, token: str, requests: int) -> None:
        """Count `requests` made now by some other client of the token (tests: a token that
        already used most of its minute or hour)."""
        now = self.clock()
        with self.lock:
            for windows in (self.hour, self.minute):
                windows.setdefault(token, deque()).extend([now] * requests)

    def _verdict(self, hour: deque, now: float, hour_length: float, allowed=True) -> Verdict:
        limit = self.options.rate_limit_hour
        reset = hour[0] + hour_length if hour else now
        return Verdict(
            allowed=allowed,
            limit=limit,
            remaining=max(0, limit - len(hour)),
            reset=math.ceil(reset),
        )

    def reset(self) -> None:
        with self.lock:
            self.hour.clear()
            self.minute.clear()
            self.key_listings.clear()
