"""How a delivery's body is signed, and how a receiver checks it (docs/user-guide.md#webhooks).

    Webhook-Signature: t=1718000000,v1=<hex HMAC-SHA256(secret, "1718000000." + body)>

The timestamp is signed with the body so a receiver can refuse an old body replayed (say,
older than five minutes); the body's exact bytes are signed, so a receiver checks them before
parsing. `v1` names the scheme: a later one can be sent beside it without breaking receivers.
"""

import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix that says what the string is, no secret
HEADER = "Webhook-Signature"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance: float = 300) -> bool:
    """What a receiver does (in Python; the user guide has it for the shell too): the header's
    timestamp within `tolerance` seconds of `now` and one `v1` matching, compared in constant
    time."""
    parts = [p.strip().partition("=") for p in header.split(",")]
    stamps = [value for name, _, value in parts if name == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    timestamp = int(stamps[0])
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return any(hmac.compare_digest(value, expected) for name, _, value in parts if name == "v1")
