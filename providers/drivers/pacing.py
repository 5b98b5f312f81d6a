"""Pacing by DigitalOcean's rate-limit headers: slow down before the budget runs out.

`ratelimit-remaining` says how many requests are left in the token's hourly window and
`ratelimit-reset` when its oldest request expires (Unix time), freeing room again. Spending the
last few at once ends in 429s for every job sharing the token, so below
`DIGITALOCEAN_PACE_BELOW` requests left the driver spreads what is left over the time to the
reset, and with none left waits for the reset. A wait is never longer than
`DIGITALOCEAN_MAX_RETRY_AFTER`. (The per-minute burst limit is not in the headers: it shows as a
429 with `retry-after`, which the retry policy honours.)
"""

import threading
import time


class Pacer:
    def __init__(self, below: int, max_wait: float, clock=time.time, sleep=time.sleep):
        self.below = below
        self.max_wait = max_wait
        self.clock = clock
        self.sleep = sleep
        self.lock = threading.Lock()
        self.remaining: int | None = None
        self.reset: float | None = None

    def observe(self, headers) -> None:
        remaining, reset = headers.get("ratelimit-remaining"), headers.get("ratelimit-reset")
        if remaining is None or not remaining.isdigit():
            return
        with self.lock:
            self.remaining = int(remaining)
            self.reset = float(reset) if reset and reset.isdigit() else None

    def delay(self) -> float:
        """Seconds to wait before the next request, by the last headers seen."""
        with self.lock:
            remaining, reset = self.remaining, self.reset
            if remaining is None or reset is None or remaining >= self.below:
                return 0.0
            until_reset = reset - self.clock()
            if until_reset <= 0:
                return 0.0
            if remaining > 0:
                # This request spends one of them: count it before the next headers arrive,
                # so threads sharing the driver do not all take the same slot.
                self.remaining = remaining - 1
                return min(self.max_wait, until_reset / remaining)
            return min(self.max_wait, until_reset)

    def wait(self) -> float:
        seconds = self.delay()
        if seconds > 0:
            self.sleep(seconds)
        return seconds
