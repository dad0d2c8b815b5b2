"""``/api/v1/groups``: open-webui's groups, and the permissions they grant to members,
enforced on the routes of each feature."""

from __future__ import annotations

import pytest

from bastion.audit.events import MemorySink
from tests.support import Bastion, StartBastion

API_KEYS_GRANT = {"features": {"api_keys": True}}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
async def bastion(start_bastion: StartBastion, sink: MemorySink) -> Bastion:
    return await start_bastion(
        {"DEFAULT_USER_ROLE": "user", "ENABLE_API_KEYS": "true"}, sinks=[sink]
    )


async def _create(
    bastion: Bastion, admin: dict, name: str, permissions: dict | None = None
) -> dict:
    response = await bastion.client.post(
        "/api/v1/groups/create",
        json={"name": name, "description": "d", "permissions": permissions or {}},
        headers=_auth(admin["token"]),
    )
    assert response.status_code == 200, response.text
    return response.json()


async def _add(bastion: Bastion, admin: dict, group: dict, *users: dict) -> dict:
    response = await bastion.client.post(
        f"/api/v1/groups/id/{group['id']}/users/add",
        json={"user_ids": [user["id"] for user in users]},
        headers=_auth(admin["token"]),
    )
    assert response.status_code == 200, response.text
    return response.json()


async def _make_key(bastion: Bastion, user: dict) -> int:
    response = await bastion.client.post(
        "/api/v1/auths/api_key", json={"name": "ci"}, headers=_auth(user["token"])
    )
    return response.status_code


async def test_an_admin_creates_lists_updates_and_deletes_a_group(
    bastion: Bastion, sink: MemorySink
) -> None:
    admin = await bastion.signup("admin@example.com")
    group = await _create(bastion, admin, "Engineering", API_KEYS_GRANT)
    assert group["name"] == "Engineering"
    assert group["permissions"]["features"] == {"api_keys": True, "web_fetch": False}
    assert group["member_count"] == 0 and group["user_id"] == admin["id"]

    updated = await bastion.client.post(
        f"/api/v1/groups/id/{group['id']}/update",
        json={"name": "Eng", "description": "", "permissions": {}},
        headers=_auth(admin["token"]),
    )
    assert updated.json()["name"] == "Eng"
    assert updated.json()["permissions"]["features"]["api_keys"] is False
    [change] = sink.of_type("group.updated")
    assert change.details["old_permissions"]["features"]["api_keys"] is True
    assert change.details["new_permissions"]["features"]["api_keys"] is False

    listed = await bastion.client.get("/api/v1/groups/", headers=_auth(admin["token"]))
    assert [g["name"] for g in listed.json()] == ["Eng"]
    deleted = await bastion.client.delete(
        f"/api/v1/groups/id/{group['id']}/delete", headers=_auth(admin["token"])
    )
    assert deleted.json() is True
    assert (await bastion.client.get("/api/v1/groups/", headers=_auth(admin["token"]))).json() == []
    assert [e.type for e in sink.events if e.type.startswith("group.")] == [
        "group.created",
        "group.updated",
        "group.deleted",
    ]


async def test_a_taken_name_and_an_unknown_permission_are_refused(bastion: Bastion) -> None:
    admin = await bastion.signup("admin@example.com")
    await _create(bastion, admin, "Eng")
    headers = _auth(admin["token"])
    taken = await bastion.client.post(
        "/api/v1/groups/create", json={"name": "Eng"}, headers=headers
    )
    unknown = await bastion.client.post(
        "/api/v1/groups/create",
        json={"name": "Root", "permissions": {"features": {"admin": True}}},
        headers=headers,
    )
    assert (taken.status_code, taken.json()["code"]) == (409, "group_name_taken")
    assert unknown.status_code == 422
    assert [
        g["name"] for g in (await bastion.client.get("/api/v1/groups/", headers=headers)).json()
    ] == ["Eng"]


async def test_members_are_added_and_removed_and_must_exist(bastion: Bastion) -> None:
    admin = await bastion.signup("admin@example.com")
    ada = await bastion.signup("ada@example.com")
    group = await _create(bastion, admin, "Eng")
    assert (await _add(bastion, admin, group, ada))["member_count"] == 1
    users = await bastion.client.post(
        f"/api/v1/groups/id/{group['id']}/users", headers=_auth(admin["token"])
    )
    assert [u["email"] for u in users.json()] == ["ada@example.com"]
    ghost = await bastion.client.post(
        f"/api/v1/groups/id/{group['id']}/users/add",
        json={"user_ids": ["no-such-user"]},
        headers=_auth(admin["token"]),
    )
    assert ghost.status_code == 404
    removed = await bastion.client.post(
        f"/api/v1/groups/id/{group['id']}/users/remove",
        json={"user_ids": [ada["id"]]},
        headers=_auth(admin["token"]),
    )
    assert removed.json()["member_count"] == 0


async def test_members_see_their_own_groups_and_change_nothing(bastion: Bastion) -> None:
    admin = await bastion.signup("admin@example.com")
    ada = await bastion.signup("ada@example.com")
    mine = await _create(bastion, admin, "Mine")
    await _create(bastion, admin, "Theirs")
    await _add(bastion, admin, mine, ada)
    headers = _auth(ada["token"])
    listed = await bastion.client.get("/api/v1/groups/", headers=headers)
    assert [g["name"] for g in listed.json()] == ["Mine"]
    for method, path, body in [
        ("POST", "/api/v1/groups/create", {"name": "X"}),
        ("GET", f"/api/v1/groups/id/{mine['id']}", None),
        (
            "POST",
            f"/api/v1/groups/id/{mine['id']}/update",
            {"name": "X", "permissions": API_KEYS_GRANT},
        ),
        ("POST", f"/api/v1/groups/id/{mine['id']}/users/add", {"user_ids": [ada["id"]]}),
        ("DELETE", f"/api/v1/groups/id/{mine['id']}/delete", None),
    ]:
        response = await bastion.client.request(method, path, json=body, headers=headers)
        assert response.status_code == 403, (method, path)
    group = await bastion.services.groups.get(mine["id"])
    assert (
        group is not None
        and group.name == "Mine"
        and group.permissions["features"]["api_keys"] is False
    )


async def test_api_keys_need_a_group_that_grants_them(bastion: Bastion, sink: MemorySink) -> None:
    admin = await bastion.signup("admin@example.com")
    ada = await bastion.signup("ada@example.com")
    assert await _make_key(bastion, admin) == 200  # admins hold every permission
    assert await _make_key(bastion, ada) == 403
    [denied] = sink.of_type("permission.denied")
    assert (denied.user_id, denied.details["permission"]) == (ada["id"], "features.api_keys")

    group = await _create(bastion, admin, "Automation", API_KEYS_GRANT)
    await _add(bastion, admin, group, ada)
    assert await _make_key(bastion, ada) == 200

    await bastion.client.post(
        f"/api/v1/groups/id/{group['id']}/users/remove",
        json={"user_ids": [ada["id"]]},
        headers=_auth(admin["token"]),
    )
    assert await _make_key(bastion, ada) == 403


@pytest.mark.parametrize(
    ("variable", "permission", "method", "path", "body"),
    [
        ("USER_PERMISSIONS_CHAT_SHARE", "chat.share", "POST", "/api/v1/chats/{chat}/share", None),
        (
            "USER_PERMISSIONS_FEATURES_WEB_FETCH",
            "features.web_fetch",
            "POST",
            "/api/v1/retrieval/process/web",
            {"url": "http://127.0.0.1:9/"},  # refused as private once past the permission
        ),
    ],
)
async def test_a_feature_switched_off_by_default_is_refused_until_a_group_grants_it(
    start_bastion: StartBastion,
    variable: str,
    permission: str,
    method: str,
    path: str,
    body: dict | None,
) -> None:
    bastion = await start_bastion({"DEFAULT_USER_ROLE": "user", variable: "false"})
    admin = await bastion.signup("admin@example.com")
    ada = await bastion.signup("ada@example.com")
    chat = await bastion.client.post(
        "/api/v1/chats/new", json={"chat": {"title": "t"}}, headers=_auth(ada["token"])
    )
    path = path.format(chat=chat.json()["id"])
    refused = await bastion.client.request(method, path, json=body, headers=_auth(ada["token"]))
    assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")
    assert permission in refused.json()["detail"]

    section, name = permission.split(".")
    group = await _create(bastion, admin, "Granted", {section: {name: True}})
    await _add(bastion, admin, group, ada)
    allowed = await bastion.client.request(method, path, json=body, headers=_auth(ada["token"]))
    assert allowed.json().get("code") != "permission_denied"


async def test_file_uploads_follow_the_permission(start_bastion: StartBastion) -> None:
    bastion = await start_bastion(
        {"DEFAULT_USER_ROLE": "user", "USER_PERMISSIONS_CHAT_FILE_UPLOAD": "false"}
    )
    admin = await bastion.signup("admin@example.com")
    ada = await bastion.signup("ada@example.com")

    async def upload(user: dict) -> int:
        response = await bastion.client.post(
            "/api/v1/files/",
            files={"file": ("a.txt", b"hello", "text/plain")},
            headers=_auth(user["token"]),
        )
        return response.status_code

    assert (await upload(ada), await upload(admin)) == (403, 200)
    assert await bastion.services.files.list(ada["id"]) == []
    group = await _create(bastion, admin, "Uploaders", {"chat": {"file_upload": True}})
    await _add(bastion, admin, group, ada)
    assert await upload(ada) == 200


async def test_the_first_group_routes_still_set_members_by_name(bastion: Bastion) -> None:
    admin = await bastion.signup("admin@example.com")
    ada = await bastion.signup("ada@example.com")
    response = await bastion.client.post(
        "/api/v1/groups/legacy/members",
        json={"user_ids": [ada["id"]]},
        headers=_auth(admin["token"]),
    )
    assert response.json() == {"name": "legacy", "user_ids": [ada["id"]]}
    group = await bastion.services.groups.get("legacy")
    assert group is not None and group.member_count == 1


async def test_each_account_reads_its_own_permissions_and_groups(bastion: Bastion) -> None:
    admin = await bastion.signup("admin@example.com")
    ada = await bastion.signup("ada@example.com")
    group = await _create(bastion, admin, "Automation", API_KEYS_GRANT)
    headers = _auth(ada["token"])
    before = await bastion.client.get("/api/v1/users/permissions", headers=headers)
    assert before.json()["features"] == {"api_keys": False, "web_fetch": True}
    await _add(bastion, admin, group, ada)
    after = await bastion.client.get("/api/v1/users/permissions", headers=headers)
    assert after.json()["features"]["api_keys"] is True
    mine = await bastion.client.get("/api/v1/users/groups", headers=headers)
    assert [g["name"] for g in mine.json()] == ["Automation"]
    admins = await bastion.client.get("/api/v1/users/permissions", headers=_auth(admin["token"]))
    assert all(all(section.values()) for section in admins.json().values())
