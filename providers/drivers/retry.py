"""HTTP retry policy for DigitalOcean, as a urllib3 `Retry` (not hand-written loops).

- 429: DigitalOcean did not process the request, so any method is retried, after the
  `Retry-After` the API sends (capped so a misbehaving server cannot park a job for hours).
- 5xx: only idempotent methods are retried here. A POST that got a 500 may still have created
  droplets; the provisioning jobs reconcile by listing by tag instead of blindly re-posting.
- Connection errors before the request was sent: retried for every method.

`on_retry(method, url, status)` hears of every retry (status None for a connection error) and
`on_wait(seconds, status)` of every wait before one, so the driver can say how often it was
rate limited and how long that cost.
"""

import time

from urllib3.util.retry import Retry

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class DigitalOceanRetry(Retry):
    def __init__(self, *args, on_retry=None, on_wait=None, max_retry_after: float = 60.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.on_retry = on_retry
        self.on_wait = on_wait
        self.max_retry_after = max_retry_after

    @classmethod
    def build(
        cls, retries: int, backoff: float, max_retry_after: float, on_retry=None, on_wait=None
    ):
        return cls(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            other=0,
            redirect=0,
            backoff_factor=backoff,
            backoff_max=max_retry_after,
            allowed_methods=IDEMPOTENT,
            raise_on_status=False,
            respect_retry_after_header=True,
            on_retry=on_retry,
            on_wait=on_wait,
            max_retry_after=max_retry_after,
        )

    def new(self, **kwargs):
        kwargs.setdefault("on_retry", self.on_retry)
        kwargs.setdefault("on_wait", self.on_wait)
        kwargs.setdefault("max_retry_after", self.max_retry_after)
        return super().new(**kwargs)

    def is_retry(self, method, status_code, has_retry_after=False):
        if not self.total:
            return False
        if status_code == 429:
            return True
        return status_code >= 500 and method.upper() in IDEMPOTENT

    def get_retry_after(self, response):
        seconds = super().get_retry_after(response)
        if seconds is None:
            return None
        return min(seconds, self.max_retry_after)

    def increment(self, method=None, url=None, response=None, *args, **kwargs):
        if self.on_retry is not None:
            self.on_retry(method, url, getattr(response, "status", None))
        return super().increment(method, url, response, *args, **kwargs)

    def sleep(self, response=None):
        started = time.monotonic()
        try:
            super().sleep(response)
        finally:
            if self.on_wait is not None:
                self.on_wait(time.monotonic() - started, getattr(response, "status", None))
