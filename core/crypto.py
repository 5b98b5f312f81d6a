"""Encryption at rest for secrets (provider tokens, SSH private keys).

MultiFernet from `settings.FERNET_KEYS`: the first key encrypts, every key decrypts, so keys
can be rotated without downtime (`manage.py rotate_secrets`).
"""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretUnreadable(Exception):
    """The stored secret cannot be decrypted with any configured key."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FERNET_KEYS is empty: set at least one Fernet key")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FERNET_KEYS holds an invalid key; make one with `python -c "
            '"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`'
        ) from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FERNET_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "stored secret cannot be decrypted: FERNET_KEYS no longer holds the key it was "
            "encrypted with"
        ) from None


def rotate(ciphertext: str) -> str:
    return fernet().rotate(ciphertext.encode()).decode()


def mask(secret: str) -> str:
    """What may be shown of a secret: never more than its last four characters."""
    if not secret:
        return ""
    return "****" + secret[-4:] if len(secret) >= 12 else "****"
