"""Sealed secrets: opened by any listed key, sealed by the newest, one opaque error."""

from __future__ import annotations

import pytest

from bastion.auth.sealing import Sealer, Unsealable

NEW = "n" * 32
OLD = "o" * 32


def test_a_secret_sealed_under_the_old_key_opens_after_rotation_and_is_resealed() -> None:
    sealed = Sealer([OLD], "test").seal(b"JBSWY3DPEHPK3PXP")
    rotated = Sealer([NEW, OLD], "test")
    assert rotated.unseal(sealed) == b"JBSWY3DPEHPK3PXP"
    assert not rotated.is_current(sealed)
    resealed = rotated.rotate(sealed)
    assert rotated.is_current(resealed)
    assert Sealer([NEW], "test").unseal(resealed) == b"JBSWY3DPEHPK3PXP"


def test_nothing_of_the_plain_text_or_the_key_is_in_the_sealed_value() -> None:
    sealed = Sealer([NEW], "test").seal(b"JBSWY3DPEHPK3PXP")
    assert "JBSWY3DPEHPK3PXP" not in sealed and NEW not in sealed
    assert sealed != Sealer([NEW], "test").seal(b"JBSWY3DPEHPK3PXP")  # a fresh IV each time


@pytest.mark.parametrize(
    "opener",
    [
        Sealer([OLD], "test"),  # another key
        Sealer([NEW], "other purpose"),  # the same key for another purpose
    ],
)
def test_a_wrong_key_or_purpose_cannot_open_it(opener: Sealer) -> None:
    sealed = Sealer([NEW], "test").seal(b"secret")
    with pytest.raises(Unsealable):
        opener.unseal(sealed)


@pytest.mark.parametrize("garbage", ["", "not a token", "gAAAAAB" + "A" * 80, "ümlaut"])
def test_garbage_is_one_opaque_error(garbage: str) -> None:
    with pytest.raises(Unsealable):
        Sealer([NEW], "test").unseal(garbage)


def test_no_key_is_an_error_at_construction() -> None:
    with pytest.raises(ValueError, match="at least one key"):
        Sealer([], "test")
