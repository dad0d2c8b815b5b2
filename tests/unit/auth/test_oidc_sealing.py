"""Provider tokens sealed at rest: opaque, tamper-evident, and keys rotate newest first."""

from __future__ import annotations

import pytest

from bastion.auth.oidc.sealing import SealBroken, TokenSeal


def test_a_sealed_token_does_not_contain_the_token() -> None:
    seal = TokenSeal(["a passphrase"])
    sealed = seal.seal("refresh-token-value")
    assert "refresh-token-value" not in sealed
    assert seal.open(sealed) == "refresh-token-value"


def test_a_new_key_in_front_still_opens_what_the_old_one_sealed() -> None:
    old = TokenSeal(["old"])
    sealed = old.seal("value")
    rotated = TokenSeal(["new", "old"])
    assert rotated.open(sealed) == "value"
    resealed = rotated.reseal(sealed)
    assert TokenSeal(["new"]).open(resealed) == "value"
    with pytest.raises(SealBroken):
        TokenSeal(["new"]).open(sealed)


def test_a_tampered_or_foreign_seal_is_one_opaque_error() -> None:
    seal = TokenSeal(["key"])
    sealed = seal.seal("value")
    for broken in (sealed[:-4] + "AAAA", "not a seal", "é"):
        with pytest.raises(SealBroken):
            seal.open(broken)
    with pytest.raises(ValueError):
        TokenSeal([])
