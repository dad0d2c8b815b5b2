"""Session tokens: every forged, altered, expired or foreign token is refused with 401."""

from __future__ import annotations

import base64
import json
import warnings
from datetime import timedelta

import jwt
import pytest

from bastion.auth.tokens import ALGORITHM, AUDIENCE, ISSUER, InvalidToken, TokenService
from tests.support import Bastion

KEY = "k" * 40
SID = "5" * 32


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(service: TokenService, user_id: str = "u1") -> dict[str, object]:
    token = service.issue(user_id, 0, sid=SID).token
    return jwt.decode(token, options={"verify_signature": False})


def test_issued_token_carries_every_required_claim() -> None:
    clock = Clock()
    service = TokenService(KEY, expires_in=timedelta(hours=1), clock=clock)
    claims = _claims(service)
    assert claims["iss"] == ISSUER and claims["aud"] == AUDIENCE and claims["typ"] == "access"
    assert claims["sub"] == "u1" and claims["iat"] == int(clock.now)
    assert claims["exp"] == int(clock.now) + 3600
    assert len(bytes.fromhex(str(claims["jti"]))) == 16  # 128 random bits
    assert jwt.get_unverified_header(service.issue("u1", 0, sid=SID).token)["alg"] == "HS256"


def test_two_tokens_never_share_a_jti() -> None:
    service = TokenService(KEY, expires_in=timedelta(hours=1))
    assert len({service.issue("u1", 0, sid=SID).claims.jti for _ in range(200)}) == 200


def test_token_expires_by_the_injected_clock_even_after_it_was_cached() -> None:
    clock = Clock()
    service = TokenService(KEY, expires_in=timedelta(minutes=30), clock=clock)
    token = service.issue("u1", 0, sid=SID).token
    assert service.verify(token).sub == "u1"
    clock.now += 30 * 60 - 1
    assert service.verify(token).sub == "u1"
    clock.now += 1
    with pytest.raises(InvalidToken):
        service.verify(token)


def test_fallback_key_verifies_but_never_signs() -> None:
    old = TokenService("o" * 40, expires_in=timedelta(hours=1))
    rotated = TokenService(KEY, fallback_keys=["o" * 40], expires_in=timedelta(hours=1))
    assert rotated.verify(old.issue("u1", 0, sid=SID).token).sub == "u1"
    new_token = rotated.issue("u1", 0, sid=SID).token
    with pytest.raises(InvalidToken):
        old.verify(new_token)
    jwt.decode(new_token, KEY, algorithms=[ALGORITHM], audience=AUDIENCE)


def test_token_without_expiry_only_when_configured() -> None:
    forever = TokenService(KEY, expires_in=None)
    token = forever.issue("u1", 0, sid=SID).token
    assert "exp" not in jwt.decode(token, options={"verify_signature": False})
    assert forever.verify(token).expires_at is None
    with pytest.raises(InvalidToken):
        TokenService(KEY, expires_in=timedelta(hours=1)).verify(token)


def _forged_tokens(signed: str, payload: dict[str, object], key: str) -> dict[str, str]:
    header, body, signature = signed.split(".")
    now = int(payload["iat"])  # type: ignore[call-overload]
    good = dict(payload)

    def sign(claims: dict[str, object], with_key: str = key, **headers: object) -> str:
        return jwt.encode(claims, with_key, algorithm="HS256", headers=headers or None)

    with warnings.catch_warnings():  # PyJWT warns that the key is short for HS512
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        hs512 = jwt.encode(good, key, algorithm="HS512")

    return {
        "alg_none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{body}.",
        "alg_none_upper": f"{_b64({'alg': 'None', 'typ': 'JWT'})}.{body}.",
        "alg_hs512": hs512,
        "wrong_key": sign(good, "w" * 40),
        "wrong_aud": sign({**good, "aud": "someone-else"}),
        "aud_list": sign({**good, "aud": [AUDIENCE, "other"]}),
        "wrong_iss": sign({**good, "iss": "evil"}),
        "wrong_typ": sign({**good, "typ": "refresh"}),
        "no_jti": sign({k: v for k, v in good.items() if k != "jti"}),
        "no_exp": sign({k: v for k, v in good.items() if k != "exp"}),
        "expired": sign({**good, "iat": now - 7200, "exp": now - 3600}),
        "future_iat": sign({**good, "iat": now + 3600}),
        "kid_header": sign(good, kid="other-key"),
        "jku_header": sign(good, jku="https://evil.example/jwks.json"),
        "jwk_header": sign(good, jwk={"kty": "oct", "k": "AAAA"}),
        "tampered_body": f"{header}.{_b64({**good, 'sub': 'someone-else'})}.{signature}",
        "truncated_signature": f"{header}.{body}.{signature[:-4]}",
        "malformed": "not.a.token",
        "garbage": "%%%%",
        "two_parts": f"{header}.{body}",
        "oversized": f"{header}.{body}{'A' * 5000}.{signature}",
    }


async def test_forged_and_foreign_tokens_are_refused_with_401(bastion: Bastion) -> None:
    user = await bastion.signup("owner@example.com")
    assert (await bastion.me(user["token"])).status_code == 200
    payload = jwt.decode(user["token"], options={"verify_signature": False})
    key = bastion.settings.auth.secret_key
    # The genuine token, re-signed with the server's key, passes: each forgery differs in one way.
    assert (await bastion.me(jwt.encode(payload, key, algorithm="HS256"))).status_code == 200
    for name, token in _forged_tokens(user["token"], payload, key).items():
        response = await bastion.me(token)
        assert response.status_code == 401, name
        assert response.json()["code"] == "token_invalid", name
        cookie = await bastion.client.get("/api/v1/auths/", headers={"Cookie": f"token={token}"})
        assert cookie.status_code == 401, name


async def test_missing_credentials_answer_401_json(bastion: Bastion) -> None:
    response = await bastion.client.get("/api/v1/auths/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication required.", "code": "not_authenticated"}
