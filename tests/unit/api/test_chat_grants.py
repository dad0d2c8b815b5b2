"""A chat shared read-only with given accounts or groups: who reads it, who cannot, and
that taking a grant back (or leaving the group) ends access at once."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from bastion.audit.events import MemorySink
from tests.support import Bastion, StartBastion

CHAT = {"title": "Plans", "history": {"messages": {"m": {"role": "user", "content": "secret"}}}}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
async def bastion(start_bastion: StartBastion, sink: MemorySink) -> Bastion:
    return await start_bastion({"DEFAULT_USER_ROLE": "user"}, sinks=[sink])


async def _people(bastion: Bastion) -> tuple[dict, dict, dict, str]:
    admin = await bastion.signup("admin@example.com")
    owner = await bastion.signup("owner@example.com")
    reader = await bastion.signup("reader@example.com")
    created = await bastion.client.post(
        "/api/v1/chats/new", json={"chat": CHAT}, headers=_auth(owner["token"])
    )
    return admin, owner, reader, created.json()["id"]


async def _grant(bastion: Bastion, owner: dict, chat_id: str, *grants: tuple[str, str]):
    return await bastion.client.post(
        f"/api/v1/chats/shared/{chat_id}/access/update",
        json={
            "access_grants": [
                {"principal_type": kind, "principal_id": who, "permission": "read"}
                for kind, who in grants
            ]
        },
        headers=_auth(owner["token"]),
    )


async def _read(bastion: Bastion, reader: dict, chat_id: str):
    return await bastion.client.get(
        f"/api/v1/chats/shared/{chat_id}", headers=_auth(reader["token"])
    )


async def test_a_user_granted_a_chat_reads_it_and_nobody_else_does(
    bastion: Bastion, sink: MemorySink
) -> None:
    admin, owner, reader, chat_id = await _people(bastion)
    stranger = await bastion.signup("stranger@example.com")
    assert (await _read(bastion, reader, chat_id)).status_code == 404

    granted = await _grant(bastion, owner, chat_id, ("user", reader["id"]))
    assert granted.json()["access_grants"] == [
        {"principal_type": "user", "principal_id": reader["id"], "permission": "read"}
    ]
    read = await _read(bastion, reader, chat_id)
    assert read.status_code == 200
    assert read.json()["chat"]["history"]["messages"]["m"]["content"] == "secret"
    assert "user_id" not in read.json() and "folder_id" not in read.json()
    listed = await bastion.client.get("/api/v1/chats/shared", headers=_auth(reader["token"]))
    assert [c["title"] for c in listed.json()] == ["Plans"]
    assert (await _read(bastion, stranger, chat_id)).status_code == 404
    [event] = sink.of_type("chat.access_changed")
    assert event.details["grants"] == [f"user:{reader['id']}"]
    # An admin reads no one's chat through this route without a grant.
    assert (await _read(bastion, admin, chat_id)).status_code == 404


async def test_a_grantee_cannot_write_or_regrant(bastion: Bastion) -> None:
    _, owner, reader, chat_id = await _people(bastion)
    await _grant(bastion, owner, chat_id, ("user", reader["id"]))
    headers = _auth(reader["token"])
    writes = [
        await bastion.client.post(
            f"/api/v1/chats/{chat_id}", json={"chat": {"title": "X"}}, headers=headers
        ),
        await bastion.client.delete(f"/api/v1/chats/{chat_id}", headers=headers),
        await _grant(bastion, reader, chat_id, ("user", reader["id"])),
        await bastion.client.get(f"/api/v1/chats/shared/{chat_id}/access", headers=headers),
    ]
    assert [response.status_code for response in writes] == [404, 404, 404, 404]
    kept = await bastion.client.get(f"/api/v1/chats/{chat_id}", headers=_auth(owner["token"]))
    assert kept.json()["title"] == "Plans"


async def test_a_group_grant_holds_only_while_the_reader_is_a_member(bastion: Bastion) -> None:
    admin, owner, reader, chat_id = await _people(bastion)
    group = await bastion.client.post(
        "/api/v1/groups/create", json={"name": "Team"}, headers=_auth(admin["token"])
    )
    group_id = group.json()["id"]
    members = f"/api/v1/groups/id/{group_id}/users"
    await bastion.client.post(
        f"{members}/add", json={"user_ids": [reader["id"]]}, headers=_auth(admin["token"])
    )
    assert (await _grant(bastion, owner, chat_id, ("group", group_id))).status_code == 200
    assert (await _read(bastion, reader, chat_id)).status_code == 200

    await bastion.client.post(
        f"{members}/remove", json={"user_ids": [reader["id"]]}, headers=_auth(admin["token"])
    )
    assert (await _read(bastion, reader, chat_id)).status_code == 404


async def test_taking_the_grants_back_ends_access_at_once(bastion: Bastion) -> None:
    _, owner, reader, chat_id = await _people(bastion)
    await _grant(bastion, owner, chat_id, ("user", reader["id"]))
    assert (await _read(bastion, reader, chat_id)).status_code == 200
    revoked = await bastion.client.delete(
        f"/api/v1/chats/shared/{chat_id}/access", headers=_auth(owner["token"])
    )
    assert revoked.json() == {"access_grants": []}
    assert (await _read(bastion, reader, chat_id)).status_code == 404
    assert (
        await bastion.client.get("/api/v1/chats/shared", headers=_auth(reader["token"]))
    ).json() == []


@pytest.mark.parametrize(
    ("grant", "status", "code"),
    [
        ({"principal_type": "user", "principal_id": "*"}, 422, "grant_to_everyone"),
        ({"principal_type": "user", "principal_id": "ghost"}, 404, "not_found"),
        ({"principal_type": "group", "principal_id": "ghost"}, 404, "not_found"),
        (
            {"principal_type": "user", "principal_id": "x", "permission": "write"},
            422,
            "validation_error",
        ),
        ({"principal_type": "role", "principal_id": "admin"}, 422, "validation_error"),
    ],
)
async def test_grants_that_say_too_much_or_name_nobody_are_refused(
    bastion: Bastion, grant: dict, status: int, code: str
) -> None:
    _, owner, _, chat_id = await _people(bastion)
    response = await bastion.client.post(
        f"/api/v1/chats/shared/{chat_id}/access/update",
        json={"access_grants": [grant]},
        headers=_auth(owner["token"]),
    )
    assert (response.status_code, response.json()["code"]) == (status, code)
    access = await bastion.client.get(
        f"/api/v1/chats/shared/{chat_id}/access", headers=_auth(owner["token"])
    )
    assert access.json() == {"access_grants": []}


async def test_granting_needs_the_share_permission(start_bastion: StartBastion) -> None:
    bastion = await start_bastion(
        {"DEFAULT_USER_ROLE": "user", "USER_PERMISSIONS_CHAT_SHARE": "false"}
    )
    _, owner, reader, chat_id = await _people(bastion)
    refused = await _grant(bastion, owner, chat_id, ("user", reader["id"]))
    assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")
    assert (await _read(bastion, reader, chat_id)).status_code == 404


async def test_the_chats_shared_with_someone_are_listed_in_as_many_queries_for_many_as_for_one(
    bastion: Bastion,
) -> None:
    _, owner, reader, first = await _people(bastion)
    await _grant(bastion, owner, first, ("user", reader["id"]))
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    engine = bastion.services.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        [one] = await bastion.services.chat_grants.shared_with(reader["id"], [])
        for_one = len(statements)
        for _ in range(4):
            created = await bastion.client.post(
                "/api/v1/chats/new", json={"chat": CHAT}, headers=_auth(owner["token"])
            )
            await _grant(bastion, owner, created.json()["id"], ("user", reader["id"]))
        statements.clear()
        listed = await bastion.services.chat_grants.shared_with(reader["id"], ["some-group"])
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert one.id == first
    assert len(listed) == 5 and first in {chat.id for chat in listed}
    assert len(statements) == for_one == 2  # the chats, then their tags
