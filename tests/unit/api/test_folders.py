"""``/api/v1/folders`` and a chat's folder: each user's own, 404 for anyone else's."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bastion.store.models import Chat, Folder
from tests.support import Bastion, StartBastion


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def bastion(start_bastion: StartBastion) -> Bastion:
    return await start_bastion({"DEFAULT_USER_ROLE": "user"})


async def _folder(bastion: Bastion, token: str, name: str, parent_id: str | None = None) -> dict:
    response = await bastion.client.post(
        "/api/v1/folders/", json={"name": name, "parent_id": parent_id}, headers=_auth(token)
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _chat(bastion: Bastion, token: str, title: str = "Chat") -> str:
    response = await bastion.client.post(
        "/api/v1/chats/new", json={"chat": {"title": title}}, headers=_auth(token)
    )
    return str(response.json()["id"])


async def _move(bastion: Bastion, token: str, chat_id: str, folder_id: str | None) -> dict:
    response = await bastion.client.post(
        f"/api/v1/chats/{chat_id}/folder", json={"folder_id": folder_id}, headers=_auth(token)
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _stored_folder_ids(bastion: Bastion) -> dict[str, str | None]:
    async with bastion.services.db.session() as session:
        rows = await session.execute(select(Chat.id, Chat.folder_id))
        return {chat_id: folder_id for chat_id, folder_id in rows}


async def test_a_folder_is_created_listed_renamed_and_read_in_open_webuis_shape(
    bastion: Bastion,
) -> None:
    me = await bastion.signup("a@example.com")
    token = me["token"]
    folder = await _folder(bastion, token, "<i>Projects</i>")
    assert set(folder) == {
        "id",
        "parent_id",
        "user_id",
        "name",
        "meta",
        "data",
        "is_expanded",
        "created_at",
        "updated_at",
    }
    assert (folder["name"], folder["parent_id"], folder["user_id"], folder["is_expanded"]) == (
        "<i>Projects</i>",
        None,
        me["id"],
        False,
    )
    listed = await bastion.client.get("/api/v1/folders/", headers=_auth(token))
    assert [f["id"] for f in listed.json()] == [folder["id"]]
    renamed = await bastion.client.post(
        f"/api/v1/folders/{folder['id']}/update", json={"name": "Work"}, headers=_auth(token)
    )
    assert renamed.json()["name"] == "Work"
    expanded = await bastion.client.post(
        f"/api/v1/folders/{folder['id']}/update/expanded",
        json={"is_expanded": True},
        headers=_auth(token),
    )
    assert expanded.json()["is_expanded"] is True
    read = await bastion.client.get(f"/api/v1/folders/{folder['id']}", headers=_auth(token))
    assert (read.json()["name"], read.json()["is_expanded"]) == ("Work", True)
    async with bastion.services.db.session() as session:
        row = await session.get(Folder, folder["id"])
    assert row is not None and (row.name, row.user_id) == ("Work", me["id"])


async def test_a_name_taken_among_siblings_in_any_case_is_refused(bastion: Bastion) -> None:
    token = (await bastion.signup("a@example.com"))["token"]
    work = await _folder(bastion, token, "Work")
    other = await _folder(bastion, token, "Other")
    again = await bastion.client.post(
        "/api/v1/folders/", json={"name": "WORK"}, headers=_auth(token)
    )
    assert (again.status_code, again.json()["code"]) == (409, "folder_exists")
    rename = await bastion.client.post(
        f"/api/v1/folders/{other['id']}/update", json={"name": "work"}, headers=_auth(token)
    )
    assert rename.status_code == 409
    # The same name inside another folder is another place.
    inner = await _folder(bastion, token, "Work", parent_id=work["id"])
    assert inner["parent_id"] == work["id"]
    for name in ("", "  ", "x" * 256, "tab\x07bell"):
        bad = await bastion.client.post(
            "/api/v1/folders/", json={"name": name}, headers=_auth(token)
        )
        assert bad.status_code == 422, name


async def test_a_chat_is_put_in_a_folder_listed_there_and_taken_out(bastion: Bastion) -> None:
    token = (await bastion.signup("a@example.com"))["token"]
    folder = await _folder(bastion, token, "Work")
    inside = await _chat(bastion, token, "Inside")
    await _chat(bastion, token, "Outside")
    moved = await _move(bastion, token, inside, folder["id"])
    assert moved["folder_id"] == folder["id"]
    assert (await _stored_folder_ids(bastion))[inside] == folder["id"]
    listed = await bastion.client.get(f"/api/v1/chats/folder/{folder['id']}", headers=_auth(token))
    assert [c["id"] for c in listed.json()["chats"]] == [inside]
    assert listed.json()["total"] == 1
    out = await _move(bastion, token, inside, None)
    assert out["folder_id"] is None
    assert (await _stored_folder_ids(bastion))[inside] is None


async def test_deleting_a_folder_deletes_its_chats_and_inner_folders_by_default(
    bastion: Bastion,
) -> None:
    token = (await bastion.signup("a@example.com"))["token"]
    outer = await _folder(bastion, token, "Outer")
    inner = await _folder(bastion, token, "Inner", parent_id=outer["id"])
    kept_folder = await _folder(bastion, token, "Kept")
    in_outer, in_inner, unfiled = [await _chat(bastion, token) for _ in range(3)]
    await _move(bastion, token, in_outer, outer["id"])
    await _move(bastion, token, in_inner, inner["id"])
    deleted = await bastion.client.delete(f"/api/v1/folders/{outer['id']}", headers=_auth(token))
    assert (deleted.status_code, deleted.json()) == (200, True)
    assert list(await _stored_folder_ids(bastion)) == [unfiled]
    listed = await bastion.client.get("/api/v1/folders/", headers=_auth(token))
    assert [f["id"] for f in listed.json()] == [kept_folder["id"]]


async def test_deleting_a_folder_without_its_contents_keeps_the_chats_in_no_folder(
    bastion: Bastion,
) -> None:
    token = (await bastion.signup("a@example.com"))["token"]
    outer = await _folder(bastion, token, "Outer")
    inner = await _folder(bastion, token, "Inner", parent_id=outer["id"])
    first = await _chat(bastion, token)
    second = await _chat(bastion, token)
    await _move(bastion, token, first, outer["id"])
    await _move(bastion, token, second, inner["id"])
    deleted = await bastion.client.delete(
        f"/api/v1/folders/{outer['id']}",
        params={"delete_contents": "false"},
        headers=_auth(token),
    )
    assert deleted.json() is True
    assert await _stored_folder_ids(bastion) == {first: None, second: None}
    assert (await bastion.client.get("/api/v1/folders/", headers=_auth(token))).json() == []


async def test_another_users_folder_is_not_found_anywhere(bastion: Bastion) -> None:
    owner = (await bastion.signup("owner@example.com"))["token"]
    other = (await bastion.signup("other@example.com"))["token"]
    folder = await _folder(bastion, owner, "Mine")
    theirs = await _chat(bastion, other)
    mine = await _chat(bastion, owner)
    await _move(bastion, owner, mine, folder["id"])
    fid = folder["id"]
    attempts = [
        ("GET", f"/api/v1/folders/{fid}", None),
        ("POST", f"/api/v1/folders/{fid}/update", {"name": "Taken"}),
        ("POST", f"/api/v1/folders/{fid}/update/expanded", {"is_expanded": True}),
        ("DELETE", f"/api/v1/folders/{fid}", None),
        ("GET", f"/api/v1/chats/folder/{fid}", None),
        ("POST", "/api/v1/folders/", {"name": "Sub", "parent_id": fid}),
        ("POST", f"/api/v1/chats/{theirs}/folder", {"folder_id": fid}),
        ("POST", f"/api/v1/chats/{mine}/folder", {"folder_id": None}),
    ]
    for method, path, body in attempts:
        response = await bastion.client.request(method, path, json=body, headers=_auth(other))
        assert (response.status_code, response.json()["code"]) == (404, "not_found"), path
    assert (await bastion.client.get("/api/v1/folders/", headers=_auth(other))).json() == []
    assert await _stored_folder_ids(bastion) == {theirs: None, mine: fid}
    read = await bastion.client.get(f"/api/v1/folders/{fid}", headers=_auth(owner))
    assert read.json()["name"] == "Mine"
