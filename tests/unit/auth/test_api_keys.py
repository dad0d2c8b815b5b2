"""API keys: shown once, stored as a hash, refused when expired, revoked or out of scope;
in use, read from memory, and every change to a key or its owner seen at once."""

from __future__ import annotations

import hashlib
from datetime import datetime

import pytest
from sqlalchemy import text

from bastion.auth.api_keys import path_allowed
from tests.support import Bastion, Clock, client_from, spare_admin, sql_statements

ENABLED = {"ENABLE_API_KEYS": "true", "USER_PERMISSIONS_FEATURES_API_KEYS": "true"}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _user_with_key(bastion: Bastion, **form: object) -> tuple[dict, dict]:
    user = await bastion.signup("owner@example.com")  # the first account: an admin
    await spare_admin(bastion)
    response = await bastion.client.post(
        "/api/v1/auths/api_key", json={"name": "ci", **form}, headers=_auth(user["token"])
    )
    assert response.status_code == 200, response.text
    return user, response.json()


async def test_key_is_sk_with_at_least_128_random_bits_and_works(start_bastion) -> None:
    bastion = await start_bastion(ENABLED)
    _, created = await _user_with_key(bastion)
    key = created["key"]
    assert key.startswith("sk-") and len(bytes.fromhex(key[3:])) * 8 >= 128
    assert created["api_key"] == key  # where open-webui's clients read it
    me = await bastion.me(key)
    assert me.status_code == 200 and me.json()["email"] == "owner@example.com"


async def test_key_is_shown_once_and_the_database_holds_no_usable_key(start_bastion) -> None:
    bastion = await start_bastion(ENABLED)
    user, created = await _user_with_key(bastion)
    key = created["key"]
    listed = await bastion.client.get("/api/v1/auths/api_key", headers=_auth(user["token"]))
    assert listed.status_code == 200 and key not in listed.text
    assert [entry["id"] for entry in listed.json()] == [created["id"]]
    async with bastion.services.db.engine.connect() as connection:
        tables = (
            (await connection.execute(text("SELECT name FROM sqlite_master WHERE type='table'")))
            .scalars()
            .all()
        )
        dump = []
        for table in tables:
            for row in (await connection.execute(text(f'SELECT * FROM "{table}"'))).all():
                dump.extend(str(value) for value in row)
    secret_part = key[10:]  # what the stored display prefix does not show
    assert not any(secret_part in value for value in dump)
    assert hashlib.sha256(key.encode()).hexdigest() in dump


async def test_several_keys_per_user_each_revocable(start_bastion) -> None:
    bastion = await start_bastion(ENABLED)
    user, first = await _user_with_key(bastion)
    second = (
        await bastion.client.post(
            "/api/v1/auths/api_key", json={"name": "laptop"}, headers=_auth(user["token"])
        )
    ).json()
    assert (await bastion.me(first["key"])).status_code == 200  # in use: held in memory
    revoke = await bastion.client.delete(
        f"/api/v1/auths/api_key/{first['id']}", headers=_auth(user["token"])
    )
    assert revoke.status_code == 200
    refused = await bastion.me(first["key"])
    assert refused.status_code == 401 and refused.json()["code"] == "api_key_invalid"
    assert (await bastion.me(second["key"])).status_code == 200


async def test_expired_key_is_refused(start_bastion) -> None:
    clock = Clock()
    bastion = await start_bastion(ENABLED, clock=clock)
    _, created = await _user_with_key(bastion, expires_in_days=1)
    assert (await bastion.me(created["key"])).status_code == 200
    clock.now += 86_400
    response = await bastion.me(created["key"])
    assert response.status_code == 401 and response.json()["code"] == "api_key_invalid"


async def test_last_use_is_recorded_at_most_once_a_minute(start_bastion) -> None:
    clock = Clock()
    bastion = await start_bastion(ENABLED, clock=clock)
    user, created = await _user_with_key(bastion)
    assert created["last_used_at"] is None

    async def last_used() -> float:
        await bastion.services.api_keys.last_use.flush()  # written off the request path
        listed = await bastion.client.get("/api/v1/auths/api_key", headers=_auth(user["token"]))
        return datetime.fromisoformat(listed.json()[0]["last_used_at"]).timestamp()

    first = clock.now
    await bastion.me(created["key"])
    assert last_used_equal(await last_used(), first)
    clock.advance(59)
    await bastion.me(created["key"])
    assert last_used_equal(await last_used(), first)
    clock.advance(1)
    await bastion.me(created["key"])
    assert last_used_equal(await last_used(), first + 60)


def last_used_equal(stored: float, expected: float) -> bool:
    return abs(stored - expected) < 1e-5  # the database keeps microseconds


async def test_a_key_in_use_costs_no_database_round_trip(start_bastion) -> None:
    # One worker on its own database sees every write: the cached key is current.
    bastion = await start_bastion(ENABLED)
    _, created = await _user_with_key(bastion)
    assert (await bastion.me(created["key"])).status_code == 200
    await bastion.services.api_keys.last_use.flush()
    with sql_statements(bastion) as seen:
        for _ in range(5):
            assert (await bastion.me(created["key"])).status_code == 200
        await bastion.services.api_keys.last_use.flush()
    assert seen == []


async def test_a_rescoped_key_is_refused_at_once(start_bastion) -> None:
    bastion = await start_bastion(ENABLED)
    user, created = await _user_with_key(bastion)
    assert (await bastion.me(created["key"])).status_code == 200
    await bastion.services.api_keys.set_scopes(user["id"], created["id"], ["/api/models"])
    refused = await bastion.me(created["key"])
    assert refused.status_code == 403 and refused.json()["code"] == "api_key_out_of_scope"
    await bastion.services.api_keys.set_scopes(user["id"], created["id"], ["/api/v1/auths"])
    assert (await bastion.me(created["key"])).status_code == 200


async def test_a_disabled_owners_keys_are_refused_at_once_and_a_new_role_is_seen(
    start_bastion,
) -> None:
    bastion = await start_bastion(ENABLED)
    user, created = await _user_with_key(bastion)
    assert (await bastion.me(created["key"])).json()["role"] == "admin"
    await bastion.services.users.set_active(user["id"], False)
    refused = await bastion.me(created["key"])
    assert refused.status_code == 401 and refused.json()["code"] == "api_key_invalid"
    await bastion.services.users.set_active(user["id"], True)
    await bastion.services.users.set_role(user["id"], "pending")
    assert (await bastion.me(created["key"])).json()["role"] == "pending"
    await bastion.services.users.delete(user["id"])
    assert (await bastion.me(created["key"])).status_code == 401


@pytest.mark.parametrize("change", ["revoke", "rescope", "disable owner"])
async def test_several_workers_without_redis_refuse_a_changed_key_at_once(
    start_bastion, change: str
) -> None:
    # Workers share no memory and there is no Redis: every use asks the database.
    first = await start_bastion({**ENABLED, "WORKERS": "2"})
    second = await start_bastion({**ENABLED, "WORKERS": "2"})
    user, created = await _user_with_key(first)
    assert (await second.me(created["key"])).status_code == 200
    if change == "revoke":
        await first.services.api_keys.revoke(user["id"], created["id"])
    elif change == "rescope":
        await first.services.api_keys.set_scopes(user["id"], created["id"], ["/api/models"])
    else:
        await first.services.users.set_active(user["id"], False)
    refused = await second.me(created["key"])
    assert refused.status_code == (403 if change == "rescope" else 401)
    assert second.services.api_keys.cached_count == 0


async def test_bogus_keys_are_limited_per_address_before_any_lookup(start_bastion) -> None:
    bastion = await start_bastion({**ENABLED, "API_KEY_FAILURE_RATE_LIMIT_IP": "2/1m"})
    _, created = await _user_with_key(bastion)
    async with client_from(bastion, "203.0.113.7") as flooder:
        bogus = [f"sk-{i:048x}" for i in range(3)]
        statuses = [
            (await flooder.get("/api/v1/auths/", headers=_auth(k))).status_code for k in bogus[:2]
        ]
        assert statuses == [401, 401]
        with sql_statements(bastion) as seen:
            refused = await flooder.get("/api/v1/auths/", headers=_auth(bogus[2]))
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
        assert seen == []
    async with client_from(bastion, "198.51.100.3") as caller:
        answer = await caller.get("/api/v1/auths/", headers=_auth(created["key"]))
        assert answer.status_code == 200


async def test_key_scope_refuses_other_paths(start_bastion) -> None:
    bastion = await start_bastion(ENABLED)
    _, created = await _user_with_key(bastion, scopes=["/api/v1/auths"])
    assert (await bastion.me(created["key"])).status_code == 200
    _, narrow = await _user_with_key_for(bastion, "other@example.com", scopes=["/api/models"])
    response = await bastion.me(narrow["key"])
    assert response.status_code == 403 and response.json()["code"] == "api_key_out_of_scope"


async def _user_with_key_for(bastion: Bastion, email: str, **form: object) -> tuple[dict, dict]:
    user = await bastion.signup(email)
    await bastion.client.post(
        "/api/v1/users/update/role",
        json={"id": user["id"], "role": "user"},
        headers=_auth((await bastion.signin("owner@example.com")).json()["token"]),
    )
    token = (await bastion.signin(email)).json()["token"]
    response = await bastion.client.post(
        "/api/v1/auths/api_key", json={"name": "k", **form}, headers=_auth(token)
    )
    assert response.status_code == 200, response.text
    return user, response.json()


async def test_server_wide_endpoint_restrictions_apply(start_bastion) -> None:
    bastion = await start_bastion(
        {
            **ENABLED,
            "ENABLE_API_KEYS_ENDPOINT_RESTRICTIONS": "true",
            "API_KEYS_ALLOWED_ENDPOINTS": "/api/chat/completions,/api/models",
        }
    )
    user, created = await _user_with_key(bastion)
    response = await bastion.me(created["key"])
    assert response.status_code == 403 and response.json()["code"] == "api_key_out_of_scope"
    # A session token is not an API key: restrictions do not apply to it.
    assert (await bastion.me(user["token"])).status_code == 200


async def test_keys_are_refused_while_api_keys_are_disabled(start_bastion) -> None:
    bastion = await start_bastion({"ENABLE_API_KEYS": "true"})
    _, created = await _user_with_key(bastion)
    disabled = await start_bastion({"ENABLE_API_KEYS": "false"})
    response = await disabled.me(created["key"])
    assert response.status_code == 403 and response.json()["code"] == "api_keys_disabled"
    user = (await disabled.signin("owner@example.com")).json()
    creating = await disabled.client.post(
        "/api/v1/auths/api_key", json={"name": "x"}, headers=_auth(user["token"])
    )
    assert creating.status_code == 403


async def test_an_api_key_cannot_mint_more_keys(start_bastion) -> None:
    bastion = await start_bastion(ENABLED)
    _, created = await _user_with_key(bastion)
    response = await bastion.client.post(
        "/api/v1/auths/api_key", json={"name": "more"}, headers=_auth(created["key"])
    )
    assert response.status_code == 403
    assert response.json()["code"] == "api_key_cannot_manage_keys"


async def test_another_users_key_cannot_be_revoked(start_bastion) -> None:
    bastion = await start_bastion(ENABLED)
    _, created = await _user_with_key(bastion)
    await _user_with_key_for(bastion, "other@example.com")
    other_token = (await bastion.signin("other@example.com")).json()["token"]
    response = await bastion.client.delete(
        f"/api/v1/auths/api_key/{created['id']}", headers=_auth(other_token)
    )
    assert response.status_code == 404
    assert (await bastion.me(created["key"])).status_code == 200


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/models", True),
        ("/api/models/", True),
        ("/api/models/llama3", True),
        ("/api/modelsx", False),
        ("/api/model", False),
        ("/api", False),
        ("/api/models/../v1/users", False),
        ("/api/models/%2e%2e/v1/users", False),
        ("/api/models/..%2Fv1%2Fusers", False),
        ("/api/models%2F..%2Fv1", False),
        ("/api/models/%252e%252e/v1", False),
        ("/api/models\\..\\v1", False),
        ("/API/models", False),
        ("/api/chat/completions", True),
        ("/api/chat/completions/extra", True),
        ("/api/chat", False),
    ],
)
def test_scope_is_matched_on_the_raw_path_segment_wise(path: str, allowed: bool) -> None:
    assert path_allowed(path, ("/api/models", "/api/chat/completions")) is allowed


def test_root_scope_allows_everything_but_traversal() -> None:
    assert path_allowed("/anything/at/all", ("/",))
    assert not path_allowed("/a/../b", ("/",))
