"""Users' SSH public keys: checked by cryptography's parser, one key on one line, because the
key ends up in a container's authorized_keys (a second line would be a second key)."""

from cryptography.hazmat.primitives.serialization import load_ssh_public_key
from django.core.exceptions import ValidationError

from core.models import UserProfile

ALLOWED = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521")
ALLOWED += ("ssh-rsa",)


def check_public_key(text: str) -> str:
    """The key, normalised to `type base64 [comment]`, or a ValidationError saying what is
    wrong. Empty means 'no key'."""
    text = (text or "").strip()
    if not text:
        return ""
    if "PRIVATE KEY" in text:
        raise ValidationError(
            {
                "ssh_public_key": "this is a private key: it is not saved; paste the public "
                "key (the .pub file) instead, and keep the private key to yourself"
            }
        )
    if "\n" in text or "\r" in text:
        raise ValidationError(
            {"ssh_public_key": "give one public key on one line (the contents of a .pub file)"}
        )
    parts = text.split(None, 2)
    if len(parts) < 2 or parts[0] not in ALLOWED:
        raise ValidationError(
            {
                "ssh_public_key": "this is not an OpenSSH public key: it should start with "
                + ", ".join(ALLOWED)
                + " (paste the .pub file, never the private key)"
            }
        )
    try:
        load_ssh_public_key(" ".join(parts[:2]).encode())
    except (ValueError, TypeError) as exc:
        raise ValidationError({"ssh_public_key": f"the key does not parse: {exc}"}) from None
    comment = parts[2] if len(parts) > 2 else ""
    if any(ord(ch) < 32 for ch in comment):
        raise ValidationError({"ssh_public_key": "the key's comment has control characters"})
    return " ".join(parts)


def public_key_of(user) -> str:
    return (
        UserProfile.objects.filter(user=user).values_list("ssh_public_key", flat=True).first() or ""
    )


def set_public_key(user, text: str) -> str:
    key = check_public_key(text)
    UserProfile.objects.update_or_create(user=user, defaults={"ssh_public_key": key})
    return key
