"""Cloud drivers: the only code that talks to a cloud API."""

from providers.drivers.digitalocean import DigitalOceanDriver
from providers.drivers.errors import (
    AuthenticationError,
    CloudError,
    NotFound,
    PermanentError,
    TransientError,
)

__all__ = [
    "AuthenticationError",
    "CloudError",
    "DigitalOceanDriver",
    "NotFound",
    "PermanentError",
    "TransientError",
]
