"""Every security decision of the account layer is recorded as an event."""

from __future__ import annotations

from bastion.audit.events import MemorySink
from tests.support import PASSWORD, Bastion, StartBastion


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _sink(bastion: Bastion) -> MemorySink:
    sink = MemorySink()
    bastion.services.events.add_sink(sink)
    return sink


async def test_signin_success_and_failures_are_recorded(bastion: Bastion) -> None:
    sink = _sink(bastion)
    admin = await bastion.signup("admin@example.com")
    await bastion.signin("admin@example.com")
    await bastion.signin("admin@example.com", "wrong password here")
    await bastion.signin("ghost@example.com", "wrong password here")
    outcomes = [(e.outcome, e.details.get("reason")) for e in sink.of_type("auth.signin")]
    assert outcomes == [
        ("success", None),
        ("failure", "wrong_password"),
        ("failure", "unknown_account"),
    ]
    success = sink.of_type("auth.signin")[0]
    assert success.user_id == admin["id"] and success.client_ip == "127.0.0.1"
    assert all(PASSWORD not in repr(event) for event in sink.events)


async def test_signout_password_change_and_revocations_are_recorded(bastion: Bastion) -> None:
    sink = _sink(bastion)
    user = await bastion.signup("a@example.com")
    await bastion.client.post(
        "/api/v1/auths/update/password",
        json={"password": PASSWORD, "new_password": "another long passphrase"},
        headers=_auth(user["token"]),
    )
    token = (await bastion.signin("a@example.com", "another long passphrase")).json()["token"]
    await bastion.client.post("/api/v1/auths/signout", headers=_auth(token))
    assert [e.user_id for e in sink.of_type("auth.password_change")] == [user["id"]]
    assert [e.user_id for e in sink.of_type("auth.signout")] == [user["id"]]
    reasons = [e.details["reason"] for e in sink.of_type("auth.token_revoked")]
    assert reasons == ["password_change", "signout"]


async def test_admin_actions_are_recorded_with_actor_and_target(bastion: Bastion) -> None:
    sink = _sink(bastion)
    admin = await bastion.signup("admin@example.com")
    user = await bastion.signup("user@example.com")
    headers = _auth(admin["token"])
    await bastion.client.post(
        "/api/v1/users/update/role", json={"id": user["id"], "role": "user"}, headers=headers
    )
    await bastion.client.post(f"/api/v1/users/{user['id']}/disable", headers=headers)
    await bastion.client.post(f"/api/v1/users/{user['id']}/enable", headers=headers)
    await bastion.client.delete(f"/api/v1/users/{user['id']}", headers=headers)
    role = sink.of_type("user.role_change")[0]
    assert (role.user_id, role.details["target_user_id"]) == (admin["id"], user["id"])
    assert (role.details["old"], role.details["new"]) == ("pending", "user")
    for event in ("user.disabled", "user.enabled", "user.deleted"):
        assert [e.details["target_user_id"] for e in sink.of_type(event)] == [user["id"]], event


async def test_api_key_creation_denial_and_revocation_are_recorded(
    start_bastion: StartBastion,
) -> None:
    bastion = await start_bastion(
        {
            "ENABLE_API_KEYS": "true",
            "ENABLE_API_KEYS_ENDPOINT_RESTRICTIONS": "true",
            "API_KEYS_ALLOWED_ENDPOINTS": "/api/models",
        }
    )
    sink = _sink(bastion)
    user = await bastion.signup("k@example.com")
    created = (
        await bastion.client.post(
            "/api/v1/auths/api_key", json={"name": "ci"}, headers=_auth(user["token"])
        )
    ).json()
    await bastion.me(created["key"])  # out of the allowed endpoints
    await bastion.client.delete(
        f"/api/v1/auths/api_key/{created['id']}", headers=_auth(user["token"])
    )
    await bastion.me(created["key"])  # revoked
    assert [e.api_key_id for e in sink.of_type("api_key.created")] == [created["id"]]
    assert [e.details["reason"] for e in sink.of_type("api_key.denied")] == [
        "api_key_out_of_scope",
        "api_key_invalid",
    ]
    assert [e.api_key_id for e in sink.of_type("api_key.revoked")] == [created["id"]]
    assert all(created["key"] not in repr(event) for event in sink.events)


async def test_admin_session_revocation_is_recorded(bastion: Bastion) -> None:
    sink = _sink(bastion)
    admin = await bastion.signup("admin@example.com")
    user = await bastion.signup("user@example.com")
    await bastion.client.post(
        f"/api/v1/users/{user['id']}/revoke-sessions", headers=_auth(admin["token"])
    )
    revoked = sink.of_type("auth.token_revoked")
    assert [(e.details["target_user_id"], e.details["all_tokens"]) for e in revoked] == [
        (user["id"], True)
    ]
