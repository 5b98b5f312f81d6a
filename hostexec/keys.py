"""SSH key material for provisions: made here with `cryptography`, never by shelling out."""

import base64
import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


@dataclass(frozen=True)
class KeyPair:
    private_openssh: str
    public_openssh: str

    @property
    def sha256_fingerprint(self) -> str:
        return sha256_fingerprint(self.public_openssh)

    @property
    def md5_fingerprint(self) -> str:
        return md5_fingerprint(self.public_openssh)


def generate_ed25519(comment: str) -> KeyPair:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return KeyPair(private, f"{public} {comment}")


def _blob(public_openssh: str) -> bytes:
    return base64.b64decode(public_openssh.split()[1])


def sha256_fingerprint(public_openssh: str) -> str:
    """As `ssh-keygen -lf` prints it: SHA256:<base64 without padding>."""
    digest = hashlib.sha256(_blob(public_openssh)).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def md5_fingerprint(public_openssh: str) -> str:
    """DigitalOcean identifies SSH keys by this (aa:bb:...)."""
    digest = hashlib.md5(_blob(public_openssh), usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
