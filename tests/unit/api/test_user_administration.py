"""open-webui's account administration: adding accounts, editing one, the primary and the
last admin, the users list's search and paging, and each account's own UI documents."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bastion.audit.events import MemorySink
from bastion.store.users import LastAdmin
from tests.support import PASSWORD, Bastion, StartBastion

NEW_PASSWORD = "a different horse battery staple"


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _stranger(bastion: Bastion) -> httpx.AsyncClient:
    """A client with no cookie of anyone's."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=bastion.app), base_url="http://testserver"
    )


async def _promote(bastion: Bastion, admin: dict, email: str) -> dict:
    """A second administrator, signed in with a token of its new role."""
    user = await bastion.signup(email)
    response = await bastion.client.post(
        "/api/v1/users/update/role",
        json={"id": user["id"], "role": "admin"},
        headers=_auth(admin["token"]),
    )
    assert response.status_code == 200, response.text
    return (await bastion.signin(email)).json()


async def test_an_admin_adds_an_account_under_the_password_policy(
    start_bastion: StartBastion,
) -> None:
    sink = MemorySink()
    bastion = await start_bastion(sinks=[sink])
    admin = await bastion.signup("admin@example.com")
    form = {"name": "Ada", "email": "Ada@Example.com", "password": PASSWORD, "role": "user"}

    added = await bastion.client.post("/api/v1/auths/add", json=form, headers=_auth(admin["token"]))

    assert added.status_code == 200, added.text
    assert added.json()["email"] == "ada@example.com"
    assert added.json()["role"] == "user"
    assert "token" not in added.json()  # the admin never holds the new account's session
    assert (await bastion.signin("ada@example.com")).json()["role"] == "user"
    [event] = sink.of_type("user.created")
    assert (event.user_id, event.details["target_user_id"]) == (admin["id"], added.json()["id"])
    weak = {**form, "email": "weak@example.com", "password": "short"}
    refused = await bastion.client.post(
        "/api/v1/auths/add", json=weak, headers=_auth(admin["token"])
    )
    assert refused.status_code == 400
    assert refused.json()["code"] == "password_too_short"


async def test_only_admins_add_accounts(bastion: Bastion) -> None:
    await bastion.signup("admin@example.com")
    pending = await bastion.signup("pending@example.com")
    form = {"name": "X", "email": "x@example.com", "password": PASSWORD}
    as_pending = await bastion.client.post(
        "/api/v1/auths/add", json=form, headers=_auth(pending["token"])
    )
    async with _stranger(bastion) as stranger:
        anonymous = await stranger.post("/api/v1/auths/add", json=form)
    assert (as_pending.status_code, anonymous.status_code) == (403, 401)
    assert await bastion.services.users.by_email("x@example.com") is None


async def test_editing_an_account_changes_it_and_a_new_password_signs_it_out(
    start_bastion: StartBastion,
) -> None:
    sink = MemorySink()
    bastion = await start_bastion(sinks=[sink])
    admin = await bastion.signup("admin@example.com")
    user = await bastion.signup("user@example.com")
    form = {"name": "Renamed", "email": "new@example.com", "role": "user", "password": NEW_PASSWORD}

    response = await bastion.client.post(
        f"/api/v1/users/{user['id']}/update", json=form, headers=_auth(admin["token"])
    )

    assert response.status_code == 200, response.text
    assert {k: response.json()[k] for k in ("name", "email", "role")} == {
        "name": "Renamed",
        "email": "new@example.com",
        "role": "user",
    }
    assert (await bastion.me(user["token"])).status_code == 401
    assert (await bastion.signin("new@example.com", NEW_PASSWORD)).status_code == 200
    [updated] = sink.of_type("user.updated")
    assert updated.details["fields"] == ["name", "email", "role", "password"]
    assert NEW_PASSWORD not in repr(sink.events)
    [revoked] = sink.of_type("auth.token_revoked")
    assert revoked.details["reason"] == "password_reset"


async def test_a_name_only_edit_keeps_the_sessions(bastion: Bastion) -> None:
    admin = await bastion.signup("admin@example.com")
    user = await bastion.signup("user@example.com")
    response = await bastion.client.post(
        f"/api/v1/users/{user['id']}/update", json={"name": "Only"}, headers=_auth(admin["token"])
    )
    assert response.status_code == 200
    assert (await bastion.me(user["token"])).json()["name"] == "Only"


async def test_an_edit_to_a_taken_e_mail_is_refused(bastion: Bastion) -> None:
    admin = await bastion.signup("admin@example.com")
    user = await bastion.signup("user@example.com")
    response = await bastion.client.post(
        f"/api/v1/users/{user['id']}/update",
        json={"email": "admin@example.com"},
        headers=_auth(admin["token"]),
    )
    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"
    assert (await bastion.services.users.get(user["id"])).email == "user@example.com"  # type: ignore[union-attr]


async def test_another_admin_cannot_touch_the_primary_admin(bastion: Bastion) -> None:
    primary = await bastion.signup("primary@example.com")
    second = await _promote(bastion, primary, "second@example.com")
    attempts = [
        ("POST", f"/api/v1/users/{primary['id']}/update", {"role": "user"}),
        ("POST", f"/api/v1/users/{primary['id']}/update", {"password": NEW_PASSWORD}),
        ("POST", "/api/v1/users/update/role", {"id": primary["id"], "role": "user"}),
        ("POST", f"/api/v1/users/{primary['id']}/disable", None),
        ("DELETE", f"/api/v1/users/{primary['id']}", None),
    ]
    for method, path, body in attempts:
        response = await bastion.client.request(
            method, path, json=body, headers=_auth(second["token"])
        )
        assert response.status_code == 403, (method, path)
        assert response.json()["code"] == "primary_admin_protected"
    assert (await bastion.me(primary["token"])).json()["role"] == "admin"
    # The primary admin may demote the second one.
    demoted = await bastion.client.post(
        f"/api/v1/users/{second['id']}/update",
        json={"role": "user"},
        headers=_auth(primary["token"]),
    )
    assert demoted.status_code == 200
    assert (await bastion.services.users.get(second["id"])).role == "user"  # type: ignore[union-attr]


async def test_an_admin_edits_their_own_name_but_not_their_own_role(bastion: Bastion) -> None:
    admin = await bastion.signup("admin@example.com")
    path = f"/api/v1/users/{admin['id']}/update"
    renamed = await bastion.client.post(path, json={"name": "Boss"}, headers=_auth(admin["token"]))
    demoted = await bastion.client.post(path, json={"role": "user"}, headers=_auth(admin["token"]))
    assert renamed.status_code == 200
    assert demoted.status_code == 409
    assert demoted.json()["code"] == "cannot_modify_self"
    assert (await bastion.me(admin["token"])).json()["role"] == "admin"


async def test_the_last_active_admin_is_never_demoted_disabled_or_deleted(bastion: Bastion) -> None:
    await bastion.signup("admin@example.com")
    admin = await bastion.services.users.by_email("admin@example.com")
    assert admin is not None
    users = bastion.services.users
    for change in (
        users.set_role(admin.id, "user"),
        users.set_active(admin.id, False),
        users.delete(admin.id),
    ):
        with pytest.raises(LastAdmin):
            await change
    assert (await users.get(admin.id)).role == "admin"  # type: ignore[union-attr]


async def test_two_admins_demoting_each_other_at_once_leave_one(bastion: Bastion) -> None:
    await bastion.signup("primary@example.com")
    users = bastion.services.users
    ids = []
    for email in ("a@example.com", "b@example.com"):
        record = await users.create(
            email=email, name=email, password_hash="x", role="admin", first_is_admin=False
        )
        ids.append(record.id)
    primary = await users.by_email("primary@example.com")
    assert primary is not None
    await users.set_role(primary.id, "user")  # the store itself has no primary rule
    results = await asyncio.gather(
        users.set_role(ids[0], "user"), users.set_role(ids[1], "user"), return_exceptions=True
    )
    assert sum(isinstance(result, LastAdmin) for result in results) == 1
    roles = [(await users.get(user_id)).role for user_id in ids]  # type: ignore[union-attr]
    assert sorted(roles) == ["admin", "user"]


async def test_the_users_list_searches_orders_and_pages_as_open_webui(bastion: Bastion) -> None:
    admin = await bastion.signup("admin@example.com", name="Zed Admin")
    for index in range(35):
        await bastion.signup(f"person{index:02d}@example.com", name=f"Person {index:02d}")
    await bastion.signup("percent@example.com", name="100% real")
    headers = _auth(admin["token"])

    first = (await bastion.client.get("/api/v1/users/?page=1", headers=headers)).json()
    second = (await bastion.client.get("/api/v1/users/?page=2", headers=headers)).json()
    assert (len(first["users"]), len(second["users"]), first["total"]) == (30, 7, 37)
    by_name = (
        await bastion.client.get(
            "/api/v1/users/?order_by=name&direction=desc&page=1", headers=headers
        )
    ).json()
    assert by_name["users"][0]["name"] == "Zed Admin"
    found = (await bastion.client.get("/api/v1/users/?query=person3", headers=headers)).json()
    assert sorted(u["email"] for u in found["users"]) == [
        f"person3{i}@example.com" for i in range(5)
    ]
    assert found["total"] == 5
    # A % in the query is a character, not a wildcard.
    literal = (await bastion.client.get("/api/v1/users/?query=0%25", headers=headers)).json()
    assert [u["name"] for u in literal["users"]] == ["100% real"]
    bad = await bastion.client.get("/api/v1/users/?order_by=password_hash", headers=headers)
    assert bad.status_code == 422


async def test_each_account_keeps_its_own_settings_and_info(bastion: Bastion) -> None:
    admin = await bastion.signup("admin@example.com")
    user = await bastion.signup("user@example.com")
    await bastion.client.post(
        "/api/v1/users/update/role",
        json={"id": user["id"], "role": "user"},
        headers=_auth(admin["token"]),
    )
    user = (await bastion.signin("user@example.com")).json()
    mine, theirs = _auth(user["token"]), _auth(admin["token"])

    assert (await bastion.client.get("/api/v1/users/user/settings", headers=mine)).json() == {}
    saved = await bastion.client.post(
        "/api/v1/users/user/settings/update", json={"ui": {"theme": "dark"}}, headers=mine
    )
    assert saved.status_code == 200
    assert (await bastion.client.get("/api/v1/users/user/settings", headers=mine)).json() == {
        "ui": {"theme": "dark"}
    }
    assert (await bastion.client.get("/api/v1/users/user/settings", headers=theirs)).json() == {}

    await bastion.client.post("/api/v1/users/user/info/update", json={"a": 1}, headers=mine)
    merged = await bastion.client.post(
        "/api/v1/users/user/info/update", json={"b": 2}, headers=mine
    )
    assert merged.json() == {"a": 1, "b": 2}
    assert (await bastion.client.get("/api/v1/users/user/info", headers=mine)).json() == {
        "a": 1,
        "b": 2,
    }


async def test_ui_documents_are_size_capped_and_need_an_account(bastion: Bastion) -> None:
    admin = await bastion.signup("admin@example.com")
    headers = _auth(admin["token"])
    big = {"ui": {"notes": "x" * 70_000}}
    refused = await bastion.client.post(
        "/api/v1/users/user/settings/update", json=big, headers=headers
    )
    assert refused.status_code == 413
    assert refused.json()["code"] == "document_too_large"
    assert (await bastion.client.get("/api/v1/users/user/settings", headers=headers)).json() == {}
    async with _stranger(bastion) as stranger:
        assert (await stranger.get("/api/v1/users/user/settings")).status_code == 401
    pending = await bastion.signup("pending@example.com")
    assert (
        await bastion.client.get("/api/v1/users/user/info", headers=_auth(pending["token"]))
    ).status_code == 403


async def test_admin_details_are_hidden_unless_the_server_shows_them(
    start_bastion: StartBastion,
) -> None:
    hidden = await start_bastion()
    admin = await hidden.signup("boss@example.com", name="The Boss")
    refused = await hidden.client.get("/api/v1/auths/admin/details", headers=_auth(admin["token"]))
    assert (refused.status_code, refused.json()["code"]) == (403, "admin_details_hidden")


async def test_a_pending_account_reads_whom_to_ask_when_shown(start_bastion: StartBastion) -> None:
    shown = await start_bastion({"SHOW_ADMIN_DETAILS": "true"})
    await shown.signup("boss@example.com", name="The Boss")
    pending = await shown.signup("new@example.com")
    answer = await shown.client.get("/api/v1/auths/admin/details", headers=_auth(pending["token"]))
    assert answer.json() == {"name": "The Boss", "email": "boss@example.com"}
    async with _stranger(shown) as stranger:
        assert (await stranger.get("/api/v1/auths/admin/details")).status_code == 401
    listed = await start_bastion({"SHOW_ADMIN_DETAILS": "true", "ADMIN_EMAIL": "help@example.com"})
    someone = await listed.signup("someone@example.com")
    answer = await listed.client.get("/api/v1/auths/admin/details", headers=_auth(someone["token"]))
    assert answer.json() == {"name": None, "email": "help@example.com"}
