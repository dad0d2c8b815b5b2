"""The account and session flow on a real PostgreSQL server (and races on both databases)."""

from __future__ import annotations

import asyncio

import pytest

from tests.support import PASSWORD, StartBastion


async def test_accounts_sessions_and_revocation_on_postgresql(
    start_bastion: StartBastion, postgres_database: str
) -> None:
    env = {"DATABASE_URL": postgres_database, "ENABLE_API_KEYS": "true"}
    bastion = await start_bastion(env)
    admin = await bastion.signup("admin@example.com")
    user = await bastion.signup("user@example.com")
    assert (admin["role"], user["role"]) == ("admin", "pending")

    await bastion.client.post(
        "/api/v1/auths/signout", headers={"Authorization": f"Bearer {user['token']}"}
    )
    key = (
        await bastion.client.post(
            "/api/v1/auths/api_key",
            json={"name": "ci"},
            headers={"Authorization": f"Bearer {admin['token']}"},
        )
    ).json()["key"]

    restarted = await start_bastion(env)
    assert (await restarted.me(user["token"])).status_code == 401
    assert (await restarted.me(admin["token"])).status_code == 200
    assert (await restarted.me(key)).status_code == 200
    changed = await restarted.client.post(
        "/api/v1/auths/update/password",
        json={"password": PASSWORD, "new_password": "another long passphrase"},
        headers={"Authorization": f"Bearer {admin['token']}"},
    )
    assert changed.status_code == 200
    assert (await bastion.me(admin["token"])).status_code == 401
    assert (await restarted.me(admin["token"])).status_code == 401


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
async def test_only_one_of_simultaneous_first_signups_becomes_admin(
    start_bastion: StartBastion, request: pytest.FixtureRequest, database: str
) -> None:
    env = {}
    if database == "postgresql":
        env["DATABASE_URL"] = request.getfixturevalue("postgres_database")
    bastion = await start_bastion(env)
    answers = await asyncio.gather(
        *(
            bastion.client.post(
                "/api/v1/auths/signup",
                json={"name": "R", "email": f"racer{i}@example.com", "password": PASSWORD},
            )
            for i in range(6)
        )
    )
    roles = sorted(answer.json()["role"] for answer in answers)
    assert roles == ["admin"] + ["pending"] * 5


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
async def test_control_characters_in_stored_text_are_refused_alike_on_both_databases(
    start_bastion: StartBastion, request: pytest.FixtureRequest, database: str
) -> None:
    env = {"ENABLE_API_KEYS": "true"}
    if database == "postgresql":
        env["DATABASE_URL"] = request.getfixturevalue("postgres_database")
    bastion = await start_bastion(env)
    client = bastion.client
    auth = {"Authorization": f"Bearer {(await bastion.signup('admin@example.com'))['token']}"}
    chat_id = (
        await client.post("/api/v1/chats/new", json={"chat": {"title": "Ünïcode ✓"}}, headers=auth)
    ).json()["id"]
    refused = [
        await client.post(
            "/api/v1/auths/signup",
            json={"name": "N\u0000", "email": "n@example.com", "password": PASSWORD},
        ),
        await client.post("/api/v1/chats/new", json={"title": "a\u0000"}, headers=auth),
        await client.post("/api/v1/chats/new", json={"chat": {"m": "\u0000"}}, headers=auth),
        await client.post(f"/api/v1/chats/{chat_id}", json={"title": "b\u0000"}, headers=auth),
        await client.post(f"/api/v1/chats/{chat_id}", json={"chat": {"\u0000": 1}}, headers=auth),
        await client.post("/api/v1/auths/api_key", json={"name": "k\u0000"}, headers=auth),
        await client.post("/api/v1/models/m/access", json={"groups": ["g\u0000"]}, headers=auth),
    ]
    assert [(r.status_code, r.json()["code"]) for r in refused] == [
        (422, "validation_error")
    ] * len(refused)
    # In a path (an id, a group name) a control character never reaches a query.
    in_paths = [
        await client.post("/api/v1/groups/g%00/members", json={"user_ids": []}, headers=auth),
        await client.get("/api/v1/chats/a%00b", headers=auth),
        await client.delete("/api/v1/chats/a%00b", headers=auth),
        await client.get("/api/v1/files/a%00b", headers=auth),
        await client.delete("/api/v1/users/a%1fb", headers=auth),
    ]
    assert [(r.status_code, r.json()["code"]) for r in in_paths] == [(400, "invalid_path")] * len(
        in_paths
    )
    # File names are data: their control characters are removed, on both databases.
    multipart = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="no\x00tes.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\ntext\r\n--b--\r\n"
    )
    uploaded = await client.post(
        "/api/v1/files/",
        content=multipart,
        headers={**auth, "content-type": "multipart/form-data; boundary=b"},
    )
    assert (uploaded.status_code, uploaded.json()["filename"]) == (200, "notes.txt")
    chat = (await client.get(f"/api/v1/chats/{chat_id}", headers=auth)).json()
    assert (chat["title"], chat["chat"]) == ("Ünïcode ✓", {"title": "Ünïcode ✓"})
