"""Sign-up, sign-in, sign-out and password change, through HTTP."""

from __future__ import annotations

import bcrypt
import pytest
from sqlalchemy import func, select, update

from bastion.store.models import RevokedToken, User
from tests.support import PASSWORD, Bastion, Clock


async def test_first_account_is_admin_and_later_ones_get_the_default_role(bastion: Bastion) -> None:
    first = await bastion.signup("first@example.com")
    second = await bastion.signup("second@example.com")
    assert first["role"] == "admin"
    assert second["role"] == "pending"
    assert first["token_type"] == "Bearer" and isinstance(first["expires_at"], int)
    assert set(first) >= {"id", "email", "name", "role", "token", "token_type", "expires_at"}


async def test_default_user_role_applies_to_later_signups(start_bastion) -> None:
    bastion = await start_bastion({"DEFAULT_USER_ROLE": "user"})
    await bastion.signup("first@example.com")
    assert (await bastion.signup("second@example.com"))["role"] == "user"


async def test_signup_sets_an_httponly_lax_cookie_without_secure_over_http(
    bastion: Bastion,
) -> None:
    response = await bastion.client.post(
        "/api/v1/auths/signup",
        json={"name": "A", "email": "a@example.com", "password": PASSWORD},
    )
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"token={response.json()['token']};")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie


async def test_cookie_is_secure_when_a_trusted_proxy_says_https(bastion: Bastion) -> None:
    response = await bastion.client.post(
        "/api/v1/auths/signup",
        json={"name": "A", "email": "a@example.com", "password": PASSWORD},
        # The in-process client is 127.0.0.1; a page served over https sends its origin.
        headers={"X-Forwarded-Proto": "https", "Origin": "https://testserver"},
    )
    assert "Secure" in response.headers["set-cookie"]


async def test_cookie_secure_and_same_site_follow_settings(start_bastion) -> None:
    bastion = await start_bastion(
        {"WEBUI_AUTH_COOKIE_SECURE": "true", "WEBUI_AUTH_COOKIE_SAME_SITE": "strict"}
    )
    response = await bastion.client.post(
        "/api/v1/auths/signup",
        json={"name": "A", "email": "a@example.com", "password": PASSWORD},
    )
    cookie = response.headers["set-cookie"]
    assert "Secure" in cookie and "SameSite=strict" in cookie


async def test_signup_disabled_refuses_new_accounts(start_bastion) -> None:
    bastion = await start_bastion({"ENABLE_SIGNUP": "false"})
    response = await bastion.client.post(
        "/api/v1/auths/signup",
        json={"name": "A", "email": "a@example.com", "password": PASSWORD},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "signup_disabled"
    assert await bastion.services.users.count() == 0


async def test_admin_from_environment_is_created_at_start(start_bastion) -> None:
    bastion = await start_bastion(
        {"WEBUI_ADMIN_EMAIL": "Root@Example.com", "WEBUI_ADMIN_PASSWORD": PASSWORD}
    )
    response = await bastion.signin("root@example.com")
    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    assert (await bastion.signup("next@example.com"))["role"] == "pending"


async def test_duplicate_email_is_a_conflict_whatever_the_case(bastion: Bastion) -> None:
    await bastion.signup("dup@example.com")
    response = await bastion.client.post(
        "/api/v1/auths/signup",
        json={"name": "B", "email": "DUP@example.com", "password": PASSWORD},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short", "password_too_short"),
        ("password123", "password_too_common"),
        ("signup@example.com", "password_similar_to_account"),
    ],
)
async def test_weak_passwords_are_refused_at_signup(
    bastion: Bastion, password: str, code: str
) -> None:
    response = await bastion.client.post(
        "/api/v1/auths/signup",
        json={"name": "A", "email": "signup@example.com", "password": password},
    )
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert await bastion.services.users.count() == 0


async def test_long_passphrase_of_100_characters_works(bastion: Bastion) -> None:
    passphrase = "many words make a long passphrase " * 3
    await bastion.signup("long@example.com", password=passphrase[:100])
    assert (await bastion.signin("long@example.com", passphrase[:100])).status_code == 200
    assert (await bastion.signin("long@example.com", passphrase[:99] + "X")).status_code == 400


async def test_admin_regex_is_applied_with_its_hint(start_bastion) -> None:
    bastion = await start_bastion(
        {
            "ENABLE_PASSWORD_VALIDATION": "true",
            "PASSWORD_VALIDATION_REGEX_PATTERN": r"^(?=.*\d).+$",
            "PASSWORD_VALIDATION_HINT": "Use at least one digit.",
        }
    )
    response = await bastion.client.post(
        "/api/v1/auths/signup",
        json={"name": "A", "email": "a@example.com", "password": "no digits in this one"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "password_pattern_mismatch"
    assert "Use at least one digit." in response.json()["detail"]


async def test_wrong_password_and_unknown_account_get_the_same_answer(bastion: Bastion) -> None:
    await bastion.signup("known@example.com")
    wrong = await bastion.signin("known@example.com", "not the right password")
    unknown = await bastion.signin("nobody@example.com", "not the right password")
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.json() == unknown.json()
    assert "set-cookie" not in wrong.headers and "set-cookie" not in unknown.headers


async def test_unknown_account_signin_calls_the_hasher(
    bastion: Bastion, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = bastion.services.hasher._argon2
    calls: list[str] = []

    class Spy:
        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

        def verify(self, encoded: str, password: bytes) -> bool:
            calls.append(encoded)
            return real.verify(encoded, password)

    monkeypatch.setattr(bastion.services.hasher, "_argon2", Spy())
    response = await bastion.signin("nobody@example.com", "some password here")
    assert response.status_code == 400
    assert len(calls) >= 1 and all(call.startswith("$argon2id$") for call in calls)


async def test_bcrypt_user_signs_in_and_is_rehashed_to_argon2id(bastion: Bastion) -> None:
    await bastion.signup("imported@example.com")
    legacy = bcrypt.hashpw(b"an imported password", bcrypt.gensalt(rounds=4)).decode()
    async with bastion.services.db.session() as session, session.begin():
        await session.execute(
            update(User).where(User.email == "imported@example.com").values(password_hash=legacy)
        )
    response = await bastion.signin("imported@example.com", "an imported password")
    assert response.status_code == 200
    async with bastion.services.db.session() as session:
        stored = (
            await session.execute(
                select(User.password_hash).where(User.email == "imported@example.com")
            )
        ).scalar_one()
    assert stored.startswith("$argon2id$")
    # The re-hash does not end the session it was made in, and the new hash works.
    assert (await bastion.me(response.json()["token"])).status_code == 200
    assert (await bastion.signin("imported@example.com", "an imported password")).status_code == 200


async def test_signout_revokes_the_token_and_clears_the_cookie(bastion: Bastion) -> None:
    user = await bastion.signup("out@example.com")
    other_session = (await bastion.signin("out@example.com")).json()["token"]
    response = await bastion.client.post(
        "/api/v1/auths/signout", headers={"Authorization": f"Bearer {user['token']}"}
    )
    assert response.status_code == 200
    assert (
        'token=""' in response.headers["set-cookie"]
        or "Max-Age=0" in response.headers["set-cookie"]
    )
    assert response.headers["clear-site-data"] == '"cache", "cookies", "storage"'
    refused = await bastion.me(user["token"])
    assert refused.status_code == 401 and refused.json()["code"] == "token_revoked"
    # Only that session ends.
    assert (await bastion.me(other_session)).status_code == 200


async def test_signed_out_token_stays_refused_after_a_restart(start_bastion) -> None:
    first = await start_bastion()
    user = await first.signup("restart@example.com")
    await first.client.post(
        "/api/v1/auths/signout", headers={"Authorization": f"Bearer {user['token']}"}
    )
    restarted = await start_bastion()
    assert restarted.settings.auth.secret_key == first.settings.auth.secret_key
    assert (await restarted.me(user["token"])).status_code == 401
    fresh = (await restarted.signin("restart@example.com")).json()["token"]
    assert (await restarted.me(fresh)).status_code == 200


async def test_signed_out_token_is_refused_by_a_multi_worker_instance(start_bastion) -> None:
    # Several workers do not share memory: the check must reach the database.
    first = await start_bastion({"WORKERS": "2"})
    second = await start_bastion({"WORKERS": "2"})
    user = await first.signup("workers@example.com")
    assert (await second.me(user["token"])).status_code == 200
    await first.client.post(
        "/api/v1/auths/signout", headers={"Authorization": f"Bearer {user['token']}"}
    )
    assert (await second.me(user["token"])).status_code == 401


async def test_password_change_revokes_every_older_token(bastion: Bastion) -> None:
    user = await bastion.signup("change@example.com")
    other_device = (await bastion.signin("change@example.com")).json()["token"]
    response = await bastion.client.post(
        "/api/v1/auths/update/password",
        json={"password": PASSWORD, "new_password": "a brand new passphrase"},
        headers={"Authorization": f"Bearer {user['token']}"},
    )
    assert response.status_code == 200
    assert (await bastion.me(user["token"])).status_code == 401
    assert (await bastion.me(other_device)).status_code == 401
    assert (await bastion.me(response.json()["token"])).status_code == 200
    assert (await bastion.signin("change@example.com")).status_code == 400
    assert (await bastion.signin("change@example.com", "a brand new passphrase")).status_code == 200


async def test_password_change_needs_the_current_password(bastion: Bastion) -> None:
    user = await bastion.signup("guard@example.com")
    response = await bastion.client.post(
        "/api/v1/auths/update/password",
        json={"password": "wrong current one", "new_password": "a brand new passphrase"},
        headers={"Authorization": f"Bearer {user['token']}"},
    )
    assert response.status_code == 400
    assert (await bastion.me(user["token"])).status_code == 200


async def test_token_without_expiry_is_still_revocable(start_bastion) -> None:
    bastion = await start_bastion({"JWT_EXPIRES_IN": "-1"})
    assert any("JWT_EXPIRES_IN" in warning for warning in bastion.settings.warnings)
    user = await bastion.signup("forever@example.com")
    assert user["expires_at"] is None
    assert (await bastion.me(user["token"])).status_code == 200
    await bastion.client.post(
        "/api/v1/auths/signout", headers={"Authorization": f"Bearer {user['token']}"}
    )
    assert (await bastion.me(user["token"])).status_code == 401


async def test_tokens_signed_with_a_former_key_still_verify(start_bastion) -> None:
    old_key, new_key = "o" * 40, "n" * 40
    before = await start_bastion({"WEBUI_SECRET_KEY": old_key})
    user = await before.signup("rotate@example.com")
    after = await start_bastion(
        {"WEBUI_SECRET_KEY": new_key, "WEBUI_SECRET_KEY_FALLBACKS": old_key}
    )
    assert (await after.me(user["token"])).status_code == 200
    without = await start_bastion({"WEBUI_SECRET_KEY": new_key})
    assert (await without.me(user["token"])).status_code == 401


async def test_validation_errors_never_echo_the_input(bastion: Bastion) -> None:
    response = await bastion.client.post(
        "/api/v1/auths/signup",
        json={"name": "A", "email": "not-an-email", "password": "SuperSecretValue123"},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert "SuperSecretValue123" not in response.text


async def test_docs_are_off_unless_enabled(start_bastion) -> None:
    closed = await start_bastion()
    assert (await closed.client.get("/docs")).status_code == 404
    assert (await closed.client.get("/openapi.json")).status_code == 404
    opened = await start_bastion({"ENABLE_API_DOCS": "true"})
    assert (await opened.client.get("/openapi.json")).status_code == 200


async def test_revocations_of_expired_tokens_are_pruned_at_start(start_bastion) -> None:
    clock = Clock()
    first = await start_bastion({"JWT_EXPIRES_IN": "1h"}, clock=clock)
    user = await first.signup("prune@example.com")
    await first.client.post(
        "/api/v1/auths/signout", headers={"Authorization": f"Bearer {user['token']}"}
    )

    async def revoked_rows(bastion: Bastion) -> int:
        async with bastion.services.db.session() as session:
            count = select(func.count()).select_from(RevokedToken)
            return int((await session.execute(count)).scalar_one())

    assert await revoked_rows(await start_bastion({"JWT_EXPIRES_IN": "1h"}, clock=clock)) == 1
    clock.advance(3601)
    assert await revoked_rows(await start_bastion({"JWT_EXPIRES_IN": "1h"}, clock=clock)) == 0
