import hashlib
import hmac

from rest_framework.test import APIClient

from core.models import ApiToken

EVENTS = ["vm.state", "provision.state", "host.error", "quota.warning", "budget.warning"]


def client_of(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(user, 'test')[1]}")
    return client


def signature_ok(secret: str, header: str, body: bytes) -> bool:
    """The check the user guide gives receivers, written out here rather than borrowed from
    webhooks.signing, so a mistake there cannot agree with itself."""
    parts = dict(p.split("=", 1) for p in header.replace(" ", "").split(","))
    expected = hmac.new(
        secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(parts["v1"], expected)
