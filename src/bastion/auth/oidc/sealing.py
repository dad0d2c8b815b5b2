"""The provider's tokens, sealed at rest with Fernet (AES-CBC + HMAC-SHA256).

A copy of the database (a backup, a stolen volume) must not hand out the refresh tokens
that open every user's account at the identity provider: Keys come newest
first; every key
decrypts, the first encrypts, so a key is rotated by putting the new one in front.
See https://cryptography.io/en/latest/fernet/#cryptography.fernet.MultiFernet
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"bastion oauth session tokens"


class SealBroken(Exception):
    """The sealed value cannot be opened with any key (tampered, or its key was dropped)."""


def _fernet(key: str) -> Fernet:
    # Any passphrase becomes a 256-bit Fernet key: HKDF spreads it; its own info string
    # keeps it apart from every other key derived from WEBUI_SECRET_KEY.
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(key.encode())
    return Fernet(base64.urlsafe_b64encode(raw))


class TokenSeal:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._fernet = MultiFernet([_fernet(key) for key in keys])

    def seal(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise SealBroken from None

    def reseal(self, sealed: str) -> str:
        """``sealed`` under the newest key (rotation)."""
        try:
            return self._fernet.rotate(sealed.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise SealBroken from None
