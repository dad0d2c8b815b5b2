"""Account administration: roles, disabling, deleting; each ends the account's sessions."""

from __future__ import annotations

from tests.support import Bastion


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _admin_and_user(bastion: Bastion) -> tuple[dict, dict]:
    admin = await bastion.signup("admin@example.com")
    user = await bastion.signup("user@example.com")
    return admin, user


async def test_only_admins_list_users(bastion: Bastion) -> None:
    admin, user = await _admin_and_user(bastion)
    listed = await bastion.client.get("/api/v1/users/", headers=_auth(admin["token"]))
    assert listed.status_code == 200
    assert listed.json()["total"] == 2
    assert {entry["email"] for entry in listed.json()["users"]} == {
        "admin@example.com",
        "user@example.com",
    }
    assert "password_hash" not in listed.text
    refused = await bastion.client.get("/api/v1/users/", headers=_auth(user["token"]))
    assert refused.status_code == 403
    assert refused.json()["code"] == "account_pending"


async def test_role_change_revokes_older_tokens_and_takes_effect(bastion: Bastion) -> None:
    admin, user = await _admin_and_user(bastion)
    assert (
        await bastion.client.post(
            "/api/v1/users/update/role",
            json={"id": user["id"], "role": "admin"},
            headers=_auth(admin["token"]),
        )
    ).status_code == 200
    # The old token, issued while pending, is refused ...
    assert (await bastion.me(user["token"])).status_code == 401
    # ... and a new sign-in carries the new role.
    promoted = (await bastion.signin("user@example.com")).json()
    assert promoted["role"] == "admin"
    assert (
        await bastion.client.get("/api/v1/users/", headers=_auth(promoted["token"]))
    ).status_code == 200


async def test_demoted_admin_loses_admin_rights_at_once(bastion: Bastion) -> None:
    admin, user = await _admin_and_user(bastion)
    await bastion.client.post(
        "/api/v1/users/update/role",
        json={"id": user["id"], "role": "admin"},
        headers=_auth(admin["token"]),
    )
    second_admin = (await bastion.signin("user@example.com")).json()["token"]
    await bastion.client.post(
        "/api/v1/users/update/role",
        json={"id": user["id"], "role": "user"},
        headers=_auth(admin["token"]),
    )
    response = await bastion.client.get("/api/v1/users/", headers=_auth(second_admin))
    assert response.status_code == 401


async def test_disabled_account_cannot_use_or_start_a_session(bastion: Bastion) -> None:
    admin, user = await _admin_and_user(bastion)
    response = await bastion.client.post(
        f"/api/v1/users/{user['id']}/disable", headers=_auth(admin["token"])
    )
    assert response.status_code == 200
    assert (await bastion.me(user["token"])).status_code == 401
    signin = await bastion.signin("user@example.com")
    assert signin.status_code == 403 and signin.json()["code"] == "account_disabled"
    await bastion.client.post(f"/api/v1/users/{user['id']}/enable", headers=_auth(admin["token"]))
    assert (await bastion.signin("user@example.com")).status_code == 200


async def test_deleted_account_tokens_are_refused(bastion: Bastion) -> None:
    admin, user = await _admin_and_user(bastion)
    response = await bastion.client.delete(
        f"/api/v1/users/{user['id']}", headers=_auth(admin["token"])
    )
    assert response.status_code == 200
    assert (await bastion.me(user["token"])).status_code == 401
    assert (await bastion.signin("user@example.com")).status_code == 400
    assert await bastion.services.users.get(user["id"]) is None


async def test_admin_revokes_every_session_of_an_account(bastion: Bastion) -> None:
    admin, user = await _admin_and_user(bastion)
    response = await bastion.client.post(
        f"/api/v1/users/{user['id']}/revoke-sessions", headers=_auth(admin["token"])
    )
    assert response.status_code == 200
    assert (await bastion.me(user["token"])).status_code == 401
    assert (await bastion.me(admin["token"])).status_code == 200


async def test_admin_cannot_lock_themselves_out(bastion: Bastion) -> None:
    admin, _ = await _admin_and_user(bastion)
    for method, path, body in [
        ("POST", "/api/v1/users/update/role", {"id": admin["id"], "role": "user"}),
        ("POST", f"/api/v1/users/{admin['id']}/disable", None),
        ("DELETE", f"/api/v1/users/{admin['id']}", None),
    ]:
        response = await bastion.client.request(
            method, path, json=body, headers=_auth(admin["token"])
        )
        assert response.status_code == 409, path
        assert response.json()["code"] == "cannot_modify_self"
    assert (await bastion.me(admin["token"])).json()["role"] == "admin"


async def test_unknown_user_id_is_404(bastion: Bastion) -> None:
    admin, _ = await _admin_and_user(bastion)
    response = await bastion.client.post(
        "/api/v1/users/no-such-id/disable", headers=_auth(admin["token"])
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


async def test_invalid_role_is_a_validation_error(bastion: Bastion) -> None:
    admin, user = await _admin_and_user(bastion)
    response = await bastion.client.post(
        "/api/v1/users/update/role",
        json={"id": user["id"], "role": "root"},
        headers=_auth(admin["token"]),
    )
    assert response.status_code == 422
