from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import argon2
import bcrypt
import pytest

from bastion.auth.passwords import (
    PasswordHasher,
    PasswordPolicy,
    PasswordPolicyError,
    VerifyResult,
    load_common_passwords,
)
from bastion.errors import BastionError

CHEAP_TIME_COST = 1
CHEAP_MEMORY_COST = 1024
ARGON2_HEADER = re.compile(r"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$")


@pytest.fixture
def hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=CHEAP_TIME_COST, memory_cost=CHEAP_MEMORY_COST)


@pytest.fixture
def argon2_verify_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, BaseException | None]]:
    """Record every call to argon2-cffi's verify: (hash, exception raised or None)."""
    calls: list[tuple[str, BaseException | None]] = []
    real: Callable[..., Any] = argon2.PasswordHasher.verify

    def spy(self: argon2.PasswordHasher, hash: str | bytes, password: str | bytes) -> Any:
        encoded = hash.decode() if isinstance(hash, bytes) else hash
        try:
            result = real(self, hash, password)
        except BaseException as exc:
            calls.append((encoded, exc))
            raise
        calls.append((encoded, None))
        return result

    monkeypatch.setattr(argon2.PasswordHasher, "verify", spy)
    return calls


def _bcrypt(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()


def _argon2(password: str, type: argon2.Type = argon2.Type.ID) -> str:
    """A hash made by argon2-cffi directly, as open-webui stores it."""
    cheap = argon2.PasswordHasher(
        time_cost=CHEAP_TIME_COST, memory_cost=CHEAP_MEMORY_COST, parallelism=1, type=type
    )
    return cheap.hash(password)


def _fullwidth(text: str) -> str:
    """*text* typed with full-width forms (U+FF01..U+FF5E), as East Asian keyboards do."""
    return "".join(chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char for char in text)


# Hashing and verification


def test_hash_is_argon2id_and_verifies(hasher: PasswordHasher) -> None:
    encoded = hasher.hash("correct horse battery staple")

    assert encoded.startswith("$argon2id$")
    assert hasher.verify("correct horse battery staple", encoded) == VerifyResult(
        ok=True, needs_rehash=False
    )


def test_default_parameters_are_at_least_owasp_minimum() -> None:
    encoded = PasswordHasher().hash("correct horse battery staple")

    header = ARGON2_HEADER.match(encoded)
    assert header is not None, encoded
    memory_cost, time_cost, parallelism = (int(group) for group in header.groups())
    assert memory_cost >= 19_456
    assert time_cost >= 2
    assert parallelism >= 1


def test_wrong_password_fails(hasher: PasswordHasher) -> None:
    encoded = hasher.hash("correct horse battery staple")

    result = hasher.verify("correct horse battery stapler", encoded)

    assert result == VerifyResult(ok=False, needs_rehash=False)
    assert not result


def test_result_is_falsy_when_password_is_wrong(hasher: PasswordHasher) -> None:
    encoded = hasher.hash("correct horse battery staple")

    assert hasher.verify("correct horse battery staple", encoded)
    assert not hasher.verify("wrong", encoded)


def test_hundred_character_password_is_hashed_whole(hasher: PasswordHasher) -> None:
    password = "a" * 72 + "b" * 28
    differs_after_byte_72 = "a" * 72 + "c" * 28
    encoded = hasher.hash(password)

    assert hasher.verify(password, encoded).ok is True
    assert hasher.verify(differs_after_byte_72, encoded).ok is False
    assert hasher.verify(password[:72], encoded).ok is False


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        (_fullwidth("password-fullwidth"), "password-fullwidth"),
        ("\ufb01le cabinet key", "file cabinet key"),
        ("cafe\u0301 au lait", "caf\u00e9 au lait"),
    ],
)
def test_compatibility_forms_verify_against_nfkc_form(
    hasher: PasswordHasher, typed: str, canonical: str
) -> None:
    assert hasher.verify(typed, hasher.hash(canonical)) == VerifyResult(ok=True)
    assert hasher.verify(canonical, hasher.hash(typed)) == VerifyResult(ok=True)


def test_argon2_hash_of_raw_form_verifies_and_is_rehashed(hasher: PasswordHasher) -> None:
    imported = _argon2("\ufb01le cabinet key")

    assert hasher.verify("\ufb01le cabinet key", imported) == VerifyResult(
        ok=True, needs_rehash=True
    )


def test_weaker_argon2_hash_needs_rehash() -> None:
    weak = PasswordHasher(time_cost=CHEAP_TIME_COST, memory_cost=CHEAP_MEMORY_COST)
    strong = PasswordHasher(time_cost=2, memory_cost=2 * CHEAP_MEMORY_COST)

    assert strong.verify("pw", weak.hash("pw")) == VerifyResult(ok=True, needs_rehash=True)
    assert weak.verify("pw", strong.hash("pw")) == VerifyResult(ok=True, needs_rehash=False)


def test_argon2i_hash_needs_rehash(hasher: PasswordHasher) -> None:
    argon2i = _argon2("pw", type=argon2.Type.I)

    assert hasher.verify("pw", argon2i) == VerifyResult(ok=True, needs_rehash=True)


@pytest.mark.parametrize("prefix", ["$2b$", "$2a$"])
def test_bcrypt_hash_verifies_and_needs_rehash(hasher: PasswordHasher, prefix: str) -> None:
    encoded = prefix + _bcrypt("correct horse battery staple")[4:]

    assert hasher.verify("correct horse battery staple", encoded) == VerifyResult(
        ok=True, needs_rehash=True
    )
    assert hasher.verify("correct horse battery stapler", encoded) == VerifyResult(ok=False)


def test_bcrypt_hash_of_raw_form_verifies(hasher: PasswordHasher) -> None:
    encoded = _bcrypt("\ufb01le cabinet key")

    assert hasher.verify("\ufb01le cabinet key", encoded) == VerifyResult(
        ok=True, needs_rehash=True
    )


def test_bcrypt_hash_of_nfkc_form_verifies(hasher: PasswordHasher) -> None:
    encoded = _bcrypt("file cabinet key")

    assert hasher.verify("\ufb01le cabinet key", encoded) == VerifyResult(
        ok=True, needs_rehash=True
    )


def test_bcrypt_password_over_72_bytes_fails_instead_of_truncating(
    hasher: PasswordHasher,
) -> None:
    password = "a" * 80
    encoded = _bcrypt(password[:72])

    assert hasher.verify(password, encoded) == VerifyResult(ok=False)
    assert hasher.verify(password[:72], encoded) == VerifyResult(ok=True, needs_rehash=True)


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "!",
        "plaintext",
        "pbkdf2_sha256$600000$salt$hash",
        "$argon2id$garbage",
        "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$",
        "$argon2x$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
        "$argon2id$v=19$m=1024,t=1,p=1$ÿÿÿÿ$ÿÿÿÿ",
        "$2b$12$short",
        "$2b$12$" + "ÿ" * 53,
    ],
)
def test_malformed_hash_fails_without_raising(hasher: PasswordHasher, encoded: str) -> None:
    assert hasher.verify("password", encoded) == VerifyResult(ok=False)


def test_unusable_hash_costs_a_dummy_check(
    hasher: PasswordHasher, argon2_verify_calls: list[tuple[str, BaseException | None]]
) -> None:
    assert hasher.verify("password", "!") == VerifyResult(ok=False)

    assert len(argon2_verify_calls) == 1
    assert isinstance(argon2_verify_calls[0][1], argon2.exceptions.VerifyMismatchError)


def test_lone_surrogate_fails_without_raising(hasher: PasswordHasher) -> None:
    encoded = hasher.hash("correct horse battery staple")

    assert hasher.verify("\ud800", encoded) == VerifyResult(ok=False)
    assert hasher.verify("\ud800", _bcrypt("x")) == VerifyResult(ok=False)
    hasher.dummy_verify("\ud800")


def test_dummy_verify_runs_one_real_argon2_check(
    hasher: PasswordHasher, argon2_verify_calls: list[tuple[str, BaseException | None]]
) -> None:
    hasher.dummy_verify("correct horse battery staple")

    assert len(argon2_verify_calls) == 1
    dummy_hash, raised = argon2_verify_calls[0]
    # A full check that ran to the end and did not match, not an early parse failure.
    assert isinstance(raised, argon2.exceptions.VerifyMismatchError)
    real_hash = hasher.hash("correct horse battery staple")
    assert argon2.extract_parameters(dummy_hash) == argon2.extract_parameters(real_hash)


def test_dummy_verify_does_the_work_of_a_wrong_password(
    hasher: PasswordHasher, argon2_verify_calls: list[tuple[str, BaseException | None]]
) -> None:
    encoded = hasher.hash("correct horse battery staple")
    for password in ("wrong password", "\ufb01le cabinet key"):
        argon2_verify_calls.clear()
        hasher.verify(password, encoded)
        real_calls = len(argon2_verify_calls)

        argon2_verify_calls.clear()
        hasher.dummy_verify(password)

        assert len(argon2_verify_calls) == real_calls


async def test_async_wrappers_run_in_a_worker_thread(
    hasher: PasswordHasher, argon2_verify_calls: list[tuple[str, BaseException | None]]
) -> None:
    threads: list[threading.Thread] = []
    real_hash = argon2.PasswordHasher.hash

    def hash_spy(self: argon2.PasswordHasher, password: str | bytes, **kw: Any) -> str:
        threads.append(threading.current_thread())
        return real_hash(self, password, **kw)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(argon2.PasswordHasher, "hash", hash_spy)
        encoded = await hasher.hash_async("correct horse battery staple")

    assert await hasher.verify_async("correct horse battery staple", encoded) == VerifyResult(
        ok=True
    )
    assert await hasher.verify_async("wrong", encoded) == VerifyResult(ok=False)
    await hasher.dummy_verify_async("wrong")
    assert threads and threading.main_thread() not in threads
    assert len(argon2_verify_calls) == 3


# Policy


def test_policy_refuses_short_password() -> None:
    with pytest.raises(PasswordPolicyError) as refused:
        PasswordPolicy().check("x7#kq2m")

    assert refused.value.code == "password_too_short"
    PasswordPolicy().check("x7#kq2mz")


def test_policy_counts_characters_after_nfkc() -> None:
    policy = PasswordPolicy(min_length=8)

    policy.check("\ufb03\ufb03\ufb03z")  # 4 characters typed, "ffiffiffiz" after NFKC
    with pytest.raises(PasswordPolicyError) as refused:
        policy.check(_fullwidth("x7#kq2m"))
    assert refused.value.code == "password_too_short"


@pytest.mark.parametrize("length", [64, 100, 256])
def test_policy_accepts_long_passwords(length: int) -> None:
    PasswordPolicy().check("x7#kq2mz" * (length // 8))


def test_policy_refuses_password_over_max_length() -> None:
    with pytest.raises(PasswordPolicyError) as refused:
        PasswordPolicy().check("x" * 257)

    assert refused.value.code == "password_too_long"


def test_policy_must_allow_at_least_64_characters() -> None:
    with pytest.raises(ValueError, match="64"):
        PasswordPolicy(max_length=63)
    PasswordPolicy(max_length=64)


@pytest.mark.parametrize("password", ["password1", "qwerty123", "PaSsWoRd1", " password1 "])
def test_policy_refuses_common_password(password: str) -> None:
    with pytest.raises(PasswordPolicyError) as refused:
        PasswordPolicy().check(password)

    assert refused.value.code == "password_too_common"


def test_policy_has_no_composition_rules_by_default() -> None:
    PasswordPolicy().check("correct horse battery staple")


def test_policy_refuses_pattern_mismatch_with_hint() -> None:
    policy = PasswordPolicy(
        pattern=re.compile(r"^(?=.*\d)(?=.*[A-Z]).{8,}$"),
        hint="Use an upper-case letter and a digit.",
    )

    with pytest.raises(PasswordPolicyError) as refused:
        policy.check("correct horse battery staple")

    assert refused.value.code == "password_pattern_mismatch"
    assert "Use an upper-case letter and a digit." in refused.value.detail
    policy.check("Correct horse battery staple 9")


def test_policy_pattern_uses_search() -> None:
    policy = PasswordPolicy(pattern=re.compile(r"[0-9]"))

    policy.check("correct horse 9 battery staple")
    with pytest.raises(PasswordPolicyError) as refused:
        policy.check("correct horse battery staple")
    assert refused.value.code == "password_pattern_mismatch"


@pytest.mark.parametrize(
    "password",
    ["alice.smith@example.com", "ALICE.SMITH@Example.com", "Alice.Smith", "alice b smith"],
)
def test_policy_refuses_password_similar_to_account(password: str) -> None:
    context = ("Alice.Smith@example.com", "Alice B Smith")

    with pytest.raises(PasswordPolicyError) as refused:
        PasswordPolicy().check(password, context=context)

    assert refused.value.code == "password_similar_to_account"


def test_policy_accepts_a_single_string_as_context() -> None:
    with pytest.raises(PasswordPolicyError) as refused:
        PasswordPolicy().check("alice.smith", context="alice.smith@example.com")

    assert refused.value.code == "password_similar_to_account"
    PasswordPolicy().check("xq7#mz2k", context="alice.smith@example.com")


def test_policy_error_is_a_bastion_error_with_code_and_detail() -> None:
    error = PasswordPolicyError("password_too_short", "Too short.")

    assert isinstance(error, BastionError)
    assert (error.code, error.detail, error.status_code) == (
        "password_too_short",
        "Too short.",
        400,
    )


def test_common_password_list_is_bundled_and_lowercase() -> None:
    passwords = load_common_passwords()

    assert len(passwords) >= 10_000
    assert {"password1", "qwerty123", "123456"} <= passwords
    assert all(password == password.lower() for password in passwords)
