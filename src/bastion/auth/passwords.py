"""Password hashing and the password policy.

New hashes are argon2id with at least OWASP's parameters; every hash string names its
algorithm, so a stored hash always says how to check it. Bcrypt hashes imported from
open-webui still verify and are flagged for re-hashing on the next successful login, the
way Django upgrades hashes. The policy follows NIST SP 800-63B: a length window, Unicode
normalisation, a common-password blocklist, and no composition rules unless an admin
configures a pattern.

https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html
https://pages.nist.gov/800-63-3/sp800-63b.html#memsecret
"""

from __future__ import annotations

import functools
import gzip
import re
import secrets
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from importlib import resources

import anyio.to_thread
import argon2
import bcrypt
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from bastion.errors import BastionError

__all__ = [
    "ARGON2_MEMORY_COST",
    "ARGON2_PARALLELISM",
    "ARGON2_TIME_COST",
    "PasswordHasher",
    "PasswordPolicy",
    "PasswordPolicyError",
    "VerifyResult",
    "load_common_passwords",
]

# OWASP's minimum for argon2id: 19 MiB of memory, 2 iterations, 1 lane.
ARGON2_TIME_COST = 2
ARGON2_MEMORY_COST = 19_456
ARGON2_PARALLELISM = 1

_BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
_BCRYPT_MAX_BYTES = 72
_COMMON_PASSWORDS_FILE = "common-passwords.txt.gz"


def _nfkc(text: str) -> str:
    # One password typed on different keyboards or input methods (full-width letters,
    # ligatures, composed or decomposed accents) must hash the same; NIST 800-63B 5.1.1.2.
    return unicodedata.normalize("NFKC", text)


def _encode(text: str) -> bytes:
    # A JSON body can carry a lone surrogate; it must simply fail to match, not raise.
    return text.encode("utf-8", "surrogatepass")


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of checking a password against a stored hash.

    ``needs_rehash`` is only ever true together with ``ok``: the caller then stores
    ``hash(password)`` in place of the old hash, which retires bcrypt and weak argon2
    hashes one login at a time.
    """

    ok: bool
    needs_rehash: bool = False

    def __bool__(self) -> bool:
        # ``if hasher.verify(...)`` must mean "the password matched", not "a result exists".
        return self.ok


_FAILED = VerifyResult(ok=False)


class PasswordHasher:
    """Hashes passwords with argon2id; verifies argon2 hashes and imported bcrypt hashes.

    Every method is CPU-bound and blocks for tens of milliseconds; from async code use the
    ``*_async`` variants, which run in a worker thread so the event loop keeps serving.
    The argon2 parameters are injectable so tests can use cheap ones; the defaults are
    OWASP's minimum.
    """

    def __init__(
        self,
        *,
        time_cost: int = ARGON2_TIME_COST,
        memory_cost: int = ARGON2_MEMORY_COST,
        parallelism: int = ARGON2_PARALLELISM,
    ) -> None:
        self._argon2 = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )
        # A hash of a random secret, made with the current parameters: checking against it
        # costs what checking a real account costs, and no password can match it.
        self._dummy_hash = self._argon2.hash(secrets.token_bytes(32))
        self._parameters = argon2.extract_parameters(self._dummy_hash)

    def hash(self, password: str) -> str:
        """Return an argon2id hash (``$argon2id$...``) of the NFKC form of *password*.

        The whole password is hashed whatever its length: bcrypt's 72-byte truncation
        never applies to a hash made here.
        """
        return self._argon2.hash(_encode(_nfkc(password)))

    def verify(self, password: str, encoded: str) -> VerifyResult:
        """Check *password* against a stored hash; never raises for a bad hash.

        An unknown or malformed hash (for example an account that only signs in through
        SSO) costs one dummy argon2 check, so timing does not tell which accounts have a
        usable password.
        """
        result: VerifyResult | None = None
        if encoded.startswith("$argon2"):
            result = self._verify_argon2(password, encoded)
        elif encoded.startswith(_BCRYPT_PREFIXES):
            result = self._verify_bcrypt(password, encoded)
        if result is None:
            self.dummy_verify(password)
            return _FAILED
        return result

    def dummy_verify(self, password: str) -> None:
        """Spend the time of a real argon2 check when the account does not exist.

        Without it, a login for an unknown e-mail returns sooner than one with a wrong
        password, and response times enumerate accounts.
        """
        self._verify_argon2(password, self._dummy_hash)

    async def hash_async(self, password: str) -> str:
        """:meth:`hash` in a worker thread."""
        return await anyio.to_thread.run_sync(self.hash, password)

    async def verify_async(self, password: str, encoded: str) -> VerifyResult:
        """:meth:`verify` in a worker thread."""
        return await anyio.to_thread.run_sync(self.verify, password, encoded)

    async def dummy_verify_async(self, password: str) -> None:
        """:meth:`dummy_verify` in a worker thread."""
        await anyio.to_thread.run_sync(self.dummy_verify, password)

    def _verify_argon2(self, password: str, encoded: str) -> VerifyResult | None:
        """Check the NFKC form, then the raw form if it differs; ``None`` if malformed.

        The raw form covers argon2 hashes imported from open-webui, which hashed the
        password as typed; a match that way is re-hashed in the NFKC form.
        """
        normalized = _nfkc(password)
        for candidate in dict.fromkeys((normalized, password)):
            try:
                self._argon2.verify(encoded, _encode(candidate))
            except VerifyMismatchError:
                continue
            except (VerificationError, ValueError):
                return None
            weaker = candidate != normalized or self._weaker_than_current(encoded)
            return VerifyResult(ok=True, needs_rehash=weaker)
        return _FAILED

    def _verify_bcrypt(self, password: str, encoded: str) -> VerifyResult | None:
        """Check an imported bcrypt hash: the raw form first, then the NFKC form.

        open-webui hashed the password as typed. A candidate over 72 bytes fails rather
        than being truncated (bcrypt before 5.0 truncated silently, 5.0 raises), so a
        password is never accepted on its first 72 bytes alone.
        """
        try:
            stored = encoded.encode("ascii")
        except UnicodeEncodeError:
            return None
        for candidate in dict.fromkeys((password, _nfkc(password))):
            secret = _encode(candidate)
            if len(secret) > _BCRYPT_MAX_BYTES:
                continue
            try:
                if bcrypt.checkpw(secret, stored):
                    return VerifyResult(ok=True, needs_rehash=True)
            except ValueError:
                return None
        return _FAILED

    def _weaker_than_current(self, encoded: str) -> bool:
        """Whether an argon2 hash was made with a weaker type or smaller costs than now.

        Stronger hashes (for example open-webui's m=64 MiB, t=3) are kept: lowering the
        parameters must not downgrade them. Parallelism is not a strength measure here.
        """
        try:
            found = argon2.extract_parameters(encoded)
        except InvalidHashError:
            return True
        current = self._parameters
        return (
            found.type is not argon2.Type.ID
            or found.version < current.version
            or found.memory_cost < current.memory_cost
            or found.time_cost < current.time_cost
            or found.hash_len < current.hash_len
            or found.salt_len < current.salt_len
        )


@functools.cache
def load_common_passwords() -> frozenset[str]:
    """The bundled list of 20,000 common passwords, lowercased; read once, on first use.

    The list comes from Django (BSD-3-Clause); see COMMON-PASSWORDS-LICENSE.txt.
    """
    data = resources.files("bastion.auth").joinpath(_COMMON_PASSWORDS_FILE).read_bytes()
    lines = gzip.decompress(data).decode("utf-8").splitlines()
    return frozenset(stripped.lower() for line in lines if (stripped := line.strip()))


class PasswordPolicyError(BastionError):
    """A new password breaks the policy; ``code`` is stable, ``detail`` is for people."""

    code = "password_policy"

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail, code=code)


class PasswordPolicy:
    """Rules for a new password, after NIST SP 800-63B.

    Length is counted in characters of the NFKC form. No composition rules apply unless
    the admin sets ``pattern`` (``PASSWORD_VALIDATION_REGEX_PATTERN``). The pattern is
    applied with :meth:`re.Pattern.search` to the NFKC form: for an anchored pattern
    (``^...$``, the usual form) that is exactly open-webui's ``re.match``, for an
    unanchored one such as ``[0-9]`` it means "contains", and every password open-webui
    accepted is still accepted.
    """

    def __init__(
        self,
        *,
        min_length: int = 8,
        max_length: int = 256,
        pattern: re.Pattern[str] | None = None,
        hint: str = "",
        common_passwords: Collection[str] | None = None,
    ) -> None:
        if min_length < 1:
            raise ValueError("min_length must be at least 1")
        if max_length < 64:
            raise ValueError("max_length must allow at least 64 characters (NIST 800-63B)")
        if max_length < min_length:
            raise ValueError("max_length must not be below min_length")
        self.min_length = min_length
        self.max_length = max_length
        self.pattern = pattern
        self.hint = hint
        self._common_passwords = common_passwords

    def check(self, password: str, *, context: Sequence[str] = ()) -> None:
        """Raise :class:`PasswordPolicyError` if *password* may not be set.

        *context* holds the account's e-mail and name: a password equal to either, or to
        the e-mail's local part, is the first guess of anyone who knows the account.
        """
        normalized = _nfkc(password)
        if len(normalized) < self.min_length:
            raise PasswordPolicyError(
                "password_too_short",
                f"The password must be at least {self.min_length} characters long.",
            )
        if len(normalized) > self.max_length:
            raise PasswordPolicyError(
                "password_too_long",
                f"The password must be at most {self.max_length} characters long.",
            )
        common = self._common_passwords
        if common is None:
            common = load_common_passwords()
        if normalized.strip().lower() in common:
            raise PasswordPolicyError("password_too_common", "This password is too common.")
        if normalized.strip().casefold() in _account_words(context):
            raise PasswordPolicyError(
                "password_similar_to_account",
                "The password must not be the account's e-mail address or name.",
            )
        if self.pattern is not None and self.pattern.search(normalized) is None:
            detail = "The password does not meet the requirements."
            if self.hint:
                detail = f"{detail} {self.hint}"
            raise PasswordPolicyError("password_pattern_mismatch", detail)


def _account_words(context: Sequence[str]) -> set[str]:
    """The casefolded values of *context*, plus the local part of each e-mail address."""
    if isinstance(context, str):
        context = (context,)
    words: set[str] = set()
    for value in context:
        folded = _nfkc(value).strip().casefold()
        if not folded:
            continue
        words.add(folded)
        local, at, _ = folded.rpartition("@")
        if at and local:
            words.add(local)
    return words
