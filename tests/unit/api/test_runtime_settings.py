"""``/api/v1/auths/admin/config``: settings an administrator changes at run time, checked by
the code that checks them at start, stored, audited, and in force on every process."""

from __future__ import annotations

from datetime import UTC, datetime

import jwt
import pytest

from bastion.audit.events import MemorySink
from bastion.store.runtime_settings import RuntimeSettingsStore
from tests.support import PASSWORD, Bastion, StartBastion

CONFIG = "/api/v1/auths/admin/config"
# Two processes on one database, neither alone: each must learn the other's changes.
SHARED = {"WORKERS": "2", "DEFAULT_USER_ROLE": "user", "ENABLE_API_KEYS": "true"}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _signup(bastion: Bastion, email: str) -> int:
    response = await bastion.client.post(
        "/api/v1/auths/signup", json={"name": "N", "email": email, "password": PASSWORD}
    )
    return response.status_code


async def test_only_admins_read_or_change_the_settings(bastion: Bastion) -> None:
    admin = await bastion.signup("admin@example.com")
    pending = await bastion.signup("pending@example.com")
    shown = await bastion.client.get(CONFIG, headers=_auth(admin["token"]))
    assert shown.status_code == 200
    assert shown.json()["ENABLE_SIGNUP"] is True and shown.json()["JWT_EXPIRES_IN"] == "7d"
    assert "WEBUI_SECRET_KEY" in shown.json()["START_TIME_ONLY"]
    for method, body in (("GET", None), ("POST", {"ENABLE_SIGNUP": False})):
        refused = await bastion.client.request(
            method, CONFIG, json=body, headers=_auth(pending["token"])
        )
        assert refused.status_code == 403
    assert bastion.services.settings.auth.enable_signup is True


async def test_closing_sign_up_applies_at_once_and_is_audited(start_bastion: StartBastion) -> None:
    sink = MemorySink()
    bastion = await start_bastion(sinks=[sink])
    admin = await bastion.signup("admin@example.com")
    changed = await bastion.client.post(
        CONFIG,
        json={"ENABLE_SIGNUP": False, "ENABLE_COMMUNITY_SHARING": True},
        headers=_auth(admin["token"]),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["ENABLE_SIGNUP"] is False
    assert changed.json()["IGNORED"] == ["ENABLE_COMMUNITY_SHARING"]
    assert await _signup(bastion, "late@example.com") == 403
    [event] = sink.of_type("settings.changed")
    assert (event.user_id, event.details["old"], event.details["new"]) == (
        admin["id"],
        {"ENABLE_SIGNUP": True},
        {"ENABLE_SIGNUP": False},
    )


@pytest.mark.parametrize(
    ("form", "variable", "code"),
    [
        ({"JWT_EXPIRES_IN": "soon"}, "JWT_EXPIRES_IN", "invalid_setting"),
        ({"DEFAULT_USER_ROLE": "root"}, "DEFAULT_USER_ROLE", "invalid_setting"),
        (
            {"ENABLE_PASSWORD_VALIDATION": True, "PASSWORD_VALIDATION_REGEX_PATTERN": "(["},
            "PASSWORD_VALIDATION_REGEX_PATTERN",
            "invalid_setting",
        ),
        ({"WEBUI_SECRET_KEY": "x" * 40}, "WEBUI_SECRET_KEY", "start_time_only"),
        ({"PASSWORD_VALIDATION_HINT": {"en": "8+"}}, "PASSWORD_VALIDATION_HINT", "invalid_setting"),
        ({"API_KEY_ALLOWED_ENDPOINTS": [None]}, "API_KEYS_ALLOWED_ENDPOINTS", "invalid_setting"),
        (
            {"API_KEY_ALLOWED_ENDPOINTS": [["/api"]]},
            "API_KEYS_ALLOWED_ENDPOINTS",
            "invalid_setting",
        ),
    ],
)
async def test_a_refused_value_changes_nothing_and_says_why_in_one_line(
    bastion: Bastion, form: dict, variable: str, code: str
) -> None:
    admin = await bastion.signup("admin@example.com")
    before = (await bastion.client.get(CONFIG, headers=_auth(admin["token"]))).json()
    refused = await bastion.client.post(CONFIG, json=form, headers=_auth(admin["token"]))
    assert (refused.status_code, refused.json()["code"]) == (422, code)
    assert refused.json()["detail"].startswith(f"{variable}: ")
    assert "\n" not in refused.json()["detail"]
    after = (await bastion.client.get(CONFIG, headers=_auth(admin["token"]))).json()
    assert after == before


async def test_a_new_token_lifetime_governs_the_next_sign_in(bastion: Bastion) -> None:
    admin = await bastion.signup("admin@example.com")
    await bastion.client.post(CONFIG, json={"JWT_EXPIRES_IN": "2h"}, headers=_auth(admin["token"]))
    token = (await bastion.signin("admin@example.com")).json()["token"]
    claims = jwt.decode(token, options={"verify_signature": False}, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 7200


async def test_a_password_rule_set_at_run_time_is_enforced(bastion: Bastion) -> None:
    admin = await bastion.signup("admin@example.com")
    await bastion.client.post(
        CONFIG,
        json={
            "ENABLE_PASSWORD_VALIDATION": True,
            "PASSWORD_VALIDATION_REGEX_PATTERN": "[0-9]",
            "PASSWORD_VALIDATION_HINT": "Use a digit.",
        },
        headers=_auth(admin["token"]),
    )
    refused = await bastion.client.post(
        "/api/v1/auths/signup",
        json={"name": "N", "email": "n@example.com", "password": "no digits in this one"},
    )
    assert refused.status_code == 400 and "Use a digit." in refused.json()["detail"]


async def test_changes_outlive_a_restart_unless_the_environment_must_win(
    start_bastion: StartBastion,
) -> None:
    first = await start_bastion()
    admin = await first.signup("admin@example.com")
    await first.client.post(CONFIG, json={"ENABLE_SIGNUP": False}, headers=_auth(admin["token"]))
    restarted = await start_bastion()
    assert restarted.services.settings.auth.enable_signup is False
    assert await _signup(restarted, "late@example.com") == 403
    env_wins = await start_bastion({"ENABLE_PERSISTENT_CONFIG": "false"})
    assert env_wins.services.settings.auth.enable_signup is True
    assert await _signup(env_wins, "late@example.com") == 200


async def test_a_change_on_one_process_governs_the_others_next_request(
    start_bastion: StartBastion,
) -> None:
    one = await start_bastion(SHARED)
    other = await start_bastion(SHARED)
    admin = await one.signup("admin@example.com")
    key = await other.client.post(
        "/api/v1/auths/api_key", json={"name": "ci"}, headers=_auth(admin["token"])
    )
    assert (await other.me(key.json()["key"])).status_code == 200

    await one.client.post(
        CONFIG,
        json={"ENABLE_SIGNUP": False, "ENABLE_API_KEY": False, "JWT_EXPIRES_IN": "1h"},
        headers=_auth(admin["token"]),
    )
    assert await _signup(other, "late@example.com") == 403
    refused = await other.me(key.json()["key"])
    assert (refused.status_code, refused.json()["code"]) == (403, "api_keys_disabled")
    token = (await other.signin("admin@example.com")).json()["token"]
    claims = jwt.decode(token, options={"verify_signature": False}, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 3600


async def test_a_stored_value_the_environment_now_refuses_gives_way_to_it(
    start_bastion: StartBastion, caplog: pytest.LogCaptureFixture
) -> None:
    first = await start_bastion()
    admin = await first.signup("admin@example.com")
    await first.client.post(
        CONFIG,
        json={"ENABLE_PASSWORD_VALIDATION": True, "PASSWORD_VALIDATION_REGEX_PATTERN": "[0-9]"},
        headers=_auth(admin["token"]),
    )
    # A row no route would store (the API refuses it): the start must not stop on it.
    await RuntimeSettingsStore(first.services.db).save(
        {"PASSWORD_VALIDATION_REGEX_PATTERN": "(["}, by=None, at=datetime.now(UTC)
    )
    restarted = await start_bastion()
    assert restarted.services.settings.auth.password_validation_regex is None
    assert "the settings changed at run time are not used" in caplog.text
