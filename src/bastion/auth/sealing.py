"""Secrets kept in the database sealed (encrypted and authenticated) with Fernet.

A stolen database or backup must not hand over what lets someone pass for a user: TOTP
secrets, and later a provider's tokens. Each configured key is stretched with HKDF-SHA256
(RFC 5869) under a purpose label, so one master secret yields independent keys and a key
for one purpose never opens what another sealed. The first key seals; every key opens
(:class:`cryptography.fernet.MultiFernet`), so a new key goes first and the old one stays
listed until :meth:`Sealer.rotate` has re-sealed what it sealed
(https://cryptography.io/en/latest/fernet/#cryptography.fernet.MultiFernet.rotate).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_SALT = b"bastion sealing v1"


class Unsealable(Exception):
    """The sealed value cannot be opened with any configured key, whatever the reason."""


def derive_key(secret: str, purpose: str) -> bytes:
    """A Fernet key for ``purpose`` from ``secret``: 32 bytes of HKDF-SHA256, base64url."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=purpose.encode())
    return base64.urlsafe_b64encode(hkdf.derive(secret.encode()))


class Sealer:
    """Seals with the newest key of ``secrets``, opens with any of them."""

    def __init__(self, secrets: Sequence[str], purpose: str) -> None:
        if not secrets:
            raise ValueError("at least one key is needed")
        fernets = [Fernet(derive_key(secret, purpose)) for secret in secrets]
        self._newest = fernets[0]
        self._fernet = MultiFernet(fernets)

    def seal(self, plain: bytes) -> str:
        return self._fernet.encrypt(plain).decode("ascii")

    def unseal(self, sealed: str) -> bytes:
        try:
            return self._fernet.decrypt(sealed.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            raise Unsealable from None

    def is_current(self, sealed: str) -> bool:
        """Whether the newest key sealed ``sealed`` (else :meth:`rotate` it)."""
        try:
            self._newest.decrypt(sealed.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            return False
        return True

    def rotate(self, sealed: str) -> str:
        """``sealed`` re-sealed under the newest key (opened with whichever key fits)."""
        try:
            return self._fernet.rotate(sealed.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeEncodeError):
            raise Unsealable from None
