"""Errors the cloud driver raises, classified so callers know whether to retry.

`TransientError`: worth retrying later (rate limit, 5xx, network trouble) after the driver's own
retries ran out. `PermanentError`: retrying the same request will fail the same way (bad token,
bad region, validation); the message says what DigitalOcean said.
"""


class CloudError(Exception):
    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_id: str | None = None,
        request_id: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_id = error_id
        self.request_id = request_id

    def __str__(self):
        prefix = f"DigitalOcean {self.status}" if self.status else "DigitalOcean"
        suffix = f" ({self.error_id})" if self.error_id else ""
        return f"{prefix}{suffix}: {self.message}"


class TransientError(CloudError):
    pass


class PermanentError(CloudError):
    pass


class AuthenticationError(PermanentError):
    pass


class NotFound(PermanentError):
    pass
