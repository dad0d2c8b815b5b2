"""``/api/v1/chats``: each user's own chats, read-only share links, 404 for anyone else's."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from bastion.audit.events import MemorySink
from bastion.store.models import Chat, ChatTag
from tests.support import Bastion, StartBastion


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def bastion(start_bastion: StartBastion) -> Bastion:
    return await start_bastion({"DEFAULT_USER_ROLE": "user"})


async def _new_chat(bastion: Bastion, token: str, title: str = "Greetings") -> dict:
    response = await bastion.client.post(
        "/api/v1/chats/new",
        json={"chat": {"title": title, "messages": [{"role": "user", "content": "hi"}]}},
        headers=_auth(token),
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_user_creates_lists_reads_updates_and_deletes_a_chat(bastion: Bastion) -> None:
    token = (await bastion.signup("a@example.com"))["token"]
    chat = await _new_chat(bastion, token)
    assert chat["title"] == "Greetings" and chat["share_id"] is None
    listed = await bastion.client.get("/api/v1/chats/", headers=_auth(token))
    assert [c["id"] for c in listed.json()["chats"]] == [chat["id"]]
    assert listed.json()["total"] == 1
    read = await bastion.client.get(f"/api/v1/chats/{chat['id']}", headers=_auth(token))
    assert read.json()["chat"]["messages"] == [{"role": "user", "content": "hi"}]
    updated = await bastion.client.post(
        f"/api/v1/chats/{chat['id']}", json={"title": "Renamed"}, headers=_auth(token)
    )
    assert updated.json()["title"] == "Renamed"
    assert updated.json()["chat"] == chat["chat"]
    deleted = await bastion.client.delete(f"/api/v1/chats/{chat['id']}", headers=_auth(token))
    assert deleted.json() == {"status": True}
    gone = await bastion.client.get(f"/api/v1/chats/{chat['id']}", headers=_auth(token))
    assert gone.status_code == 404


async def test_a_share_link_is_readable_by_signed_in_users_until_revoked(bastion: Bastion) -> None:
    sink = MemorySink()
    bastion.services.events.add_sink(sink)
    owner = (await bastion.signup("owner@example.com"))["token"]
    reader = (await bastion.signup("reader@example.com"))["token"]
    chat = await _new_chat(bastion, owner)
    shared = await bastion.client.post(f"/api/v1/chats/{chat['id']}/share", headers=_auth(owner))
    share_id = shared.json()["share_id"]
    assert len(share_id) >= 32
    read = await bastion.client.get(f"/api/v1/chats/share/{share_id}", headers=_auth(reader))
    assert read.status_code == 200
    assert read.json()["title"] == "Greetings" and "user_id" not in read.json()
    bastion.client.cookies.clear()  # signup left the last account's cookie
    anonymous = await bastion.client.get(f"/api/v1/chats/share/{share_id}")
    assert anonymous.status_code == 401
    # Read-only: the reader cannot change or delete the chat through its id.
    write = await bastion.client.post(
        f"/api/v1/chats/{chat['id']}", json={"title": "mine"}, headers=_auth(reader)
    )
    assert write.status_code == 404
    revoked = await bastion.client.delete(f"/api/v1/chats/{chat['id']}/share", headers=_auth(owner))
    assert revoked.json() == {"status": True}
    dead = await bastion.client.get(f"/api/v1/chats/share/{share_id}", headers=_auth(reader))
    assert dead.status_code == 404
    assert [e.type for e in sink.events if e.type.startswith("chat.")] == [
        "chat.shared",
        "chat.unshared",
    ]


async def test_another_users_chat_answers_404_on_every_route(bastion: Bastion) -> None:
    owner = (await bastion.signup("owner@example.com"))["token"]
    other = (await bastion.signup("other@example.com"))["token"]
    chat_id = (await _new_chat(bastion, owner))["id"]
    client, auth = bastion.client, _auth(other)
    answers = [
        await client.get(f"/api/v1/chats/{chat_id}", headers=auth),
        await client.post(f"/api/v1/chats/{chat_id}", json={"title": "x"}, headers=auth),
        await client.delete(f"/api/v1/chats/{chat_id}", headers=auth),
        await client.post(f"/api/v1/chats/{chat_id}/share", headers=auth),
        await client.delete(f"/api/v1/chats/{chat_id}/share", headers=auth),
    ]
    assert [a.status_code for a in answers] == [404] * 5
    assert {a.json()["detail"] for a in answers} == {"No such chat."}
    listed = await client.get("/api/v1/chats/", headers=auth)
    assert listed.json() == {"chats": [], "total": 0}
    # Untouched: still the owner's, unshared, with its title.
    mine = await client.get(f"/api/v1/chats/{chat_id}", headers=_auth(owner))
    assert (mine.json()["title"], mine.json()["share_id"]) == ("Greetings", None)


async def test_pending_accounts_have_no_chats(start_bastion: StartBastion) -> None:
    bastion = await start_bastion()
    await bastion.signup("admin@example.com")
    pending = (await bastion.signup("pending@example.com"))["token"]
    response = await bastion.client.post("/api/v1/chats/new", json={}, headers=_auth(pending))
    assert response.status_code == 403


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


async def test_a_rename_keeps_the_history_models_and_files(bastion: Bastion) -> None:
    token = (await bastion.signup("a@example.com"))["token"]
    created = await bastion.client.post(
        "/api/v1/chats/new",
        json={"chat": {"title": "First", "models": ["m"], "history": {"messages": {"1": {}}}}},
        headers=_auth(token),
    )
    url = f"/api/v1/chats/{created.json()['id']}"
    renamed = await bastion.client.post(
        url, json={"chat": {"title": "Renamed"}}, headers=_auth(token)
    )
    assert renamed.status_code == 200
    assert renamed.json()["title"] == "Renamed"
    with_files = await bastion.client.post(
        url, json={"chat": {"files": [{"id": "f1"}]}}, headers=_auth(token)
    )
    expected = {
        "title": "Renamed",
        "models": ["m"],
        "history": {"messages": {"1": {}}},
        "files": [{"id": "f1"}],
    }
    assert with_files.json()["chat"] == expected
    assert (await bastion.client.get(url, headers=_auth(token))).json()["chat"] == expected
    replaced = await bastion.client.post(
        url, json={"chat": {"history": {"messages": {}}}}, headers=_auth(token)
    )
    assert replaced.json()["chat"]["history"] == {"messages": {}}


async def test_a_chat_nested_too_deep_is_refused_and_not_stored(bastion: Bastion) -> None:
    token = (await bastion.signup("a@example.com"))["token"]
    response = await bastion.client.post(
        "/api/v1/chats/new", json={"chat": {"a": _nested(400)}}, headers=_auth(token)
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert response.json()["errors"][0]["msg"] == (
        "Value error, The value is nested deeper than 32 levels."
    )
    listed = await bastion.client.get("/api/v1/chats/", headers=_auth(token))
    assert listed.json() == {"chats": [], "total": 0}


async def test_a_nul_in_a_chat_title_or_content_is_refused(bastion: Bastion) -> None:
    token = (await bastion.signup("a@example.com"))["token"]
    chat_id = (await _new_chat(bastion, token))["id"]
    answers = [
        await bastion.client.post(
            f"/api/v1/chats/{chat_id}", json={"title": "Re\u0000named"}, headers=_auth(token)
        ),
        await bastion.client.post(
            f"/api/v1/chats/{chat_id}", json={"chat": {"t": "a\u0000"}}, headers=_auth(token)
        ),
        await bastion.client.post(
            "/api/v1/chats/new", json={"title": "x\u0007"}, headers=_auth(token)
        ),
    ]
    assert [(a.status_code, a.json()["code"]) for a in answers] == [(422, "validation_error")] * 3
    stored = await bastion.client.get(f"/api/v1/chats/{chat_id}", headers=_auth(token))
    assert stored.json()["title"] == "Greetings"
    assert "t" not in stored.json()["chat"]


async def test_a_bad_stored_chat_does_not_break_the_listing_or_its_share_link(
    bastion: Bastion,
) -> None:
    owner = (await bastion.signup("owner@example.com"))["token"]
    reader = (await bastion.signup("reader@example.com"))["token"]
    chat_id = (await _new_chat(bastion, owner))["id"]
    share_id = (
        await bastion.client.post(f"/api/v1/chats/{chat_id}/share", headers=_auth(owner))
    ).json()["share_id"]
    # A row written before contents were checked (an older version, a direct import).
    async with bastion.services.db.session() as session, session.begin():
        await session.execute(
            update(Chat).where(Chat.id == chat_id).values(chat={"a": _nested(400)})
        )
    listed = await bastion.client.get("/api/v1/chats/", headers=_auth(owner))
    assert listed.status_code == 200
    assert [(c["id"], c["title"], c["chat"]) for c in listed.json()["chats"]] == [
        (chat_id, "Greetings", {})
    ]
    shared = await bastion.client.get(f"/api/v1/chats/share/{share_id}", headers=_auth(reader))
    assert (shared.status_code, shared.json()["chat"]) == (200, {})


async def _chat_with(bastion: Bastion, token: str, title: str, *contents: object) -> str:
    messages = [{"role": "user", "content": content} for content in contents]
    response = await bastion.client.post(
        "/api/v1/chats/new",
        json={"chat": {"title": title, "messages": messages}},
        headers=_auth(token),
    )
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def _search(bastion: Bastion, token: str, query: str) -> dict:
    response = await bastion.client.get(
        "/api/v1/chats/search", params={"text": query}, headers=_auth(token)
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_search_finds_the_callers_chats_by_title_and_message_text(bastion: Bastion) -> None:
    token = (await bastion.signup("a@example.com"))["token"]
    other = (await bastion.signup("b@example.com"))["token"]
    by_title = await _chat_with(bastion, token, "Paris trip", "hello")
    by_text = await _chat_with(bastion, token, "Plans", "What to see in PARIS?")
    by_part = await _chat_with(
        bastion,
        token,
        "Photo",
        [{"type": "text", "text": "a café in Paris"}, {"type": "image_url"}],
    )
    await _chat_with(bastion, token, "Other", "Rome")
    await _chat_with(bastion, other, "Paris too", "Paris")
    found = await _search(bastion, token, "paris")
    assert {chat["id"] for chat in found["chats"]} == {by_title, by_text, by_part}
    assert found["total"] == 3
    assert [c["id"] for c in (await _search(bastion, token, "CAFÉ"))["chats"]] == [by_part]


async def test_search_is_paged_like_the_list_and_takes_wildcards_literally(
    bastion: Bastion,
) -> None:
    token = (await bastion.signup("a@example.com"))["token"]
    for n in range(3):
        await _chat_with(bastion, token, f"Report {n}", "100% done")
    await _chat_with(bastion, token, "Report x", "100 done")
    page = await bastion.client.get(
        "/api/v1/chats/search",
        params={"text": "100%", "skip": 1, "limit": 1},
        headers=_auth(token),
    )
    assert page.json()["total"] == 3
    assert len(page.json()["chats"]) == 1
    assert (await _search(bastion, token, "_"))["total"] == 0
    too_long = await bastion.client.get(
        "/api/v1/chats/search", params={"text": "x" * 501}, headers=_auth(token)
    )
    assert too_long.status_code == 422


@pytest.mark.parametrize(
    "path",
    ["/api/v1/chats/", "/api/v1/chats/archived", "/api/v1/chats/search?text=a", "/api/v1/users/"],
)
async def test_a_skip_past_what_a_database_counts_is_refused_not_a_server_error(
    bastion: Bastion, path: str
) -> None:
    token = (await bastion.signup("a@example.com"))["token"]  # the first: an administrator
    await _chat_with(bastion, token, "Only", "a")
    separator = "&" if "?" in path else "?"
    huge = await bastion.client.get(f"{path}{separator}skip={10**20}", headers=_auth(token))
    assert huge.status_code == 422 and huge.json()["code"] == "validation_error"
    largest = await bastion.client.get(f"{path}{separator}skip={2**31}", headers=_auth(token))
    assert largest.status_code == 200
    page = largest.json()
    assert (page["chats"] if "chats" in page else page["users"]) == []


async def test_search_sees_renames_and_stored_answers(bastion: Bastion) -> None:
    token = (await bastion.signup("a@example.com"))["token"]
    chat_id = await _chat_with(bastion, token, "Untitled", "hi")
    await bastion.client.post(
        f"/api/v1/chats/{chat_id}",
        json={"title": "Budget", "chat": {"messages": [{"role": "user", "content": "numbers"}]}},
        headers=_auth(token),
    )
    assert (await _search(bastion, token, "budget"))["total"] == 1
    assert (await _search(bastion, token, "numbers"))["total"] == 1
    assert (await _search(bastion, token, "hi"))["total"] == 0
    async with bastion.services.db.session() as session:
        stored = await session.scalar(select(Chat.search_text).where(Chat.id == chat_id))
    assert stored == "budget\nnumbers"


async def _flags(bastion: Bastion, chat_id: str) -> tuple[bool, bool]:
    async with bastion.services.db.session() as session:
        row = (
            await session.execute(select(Chat.pinned, Chat.archived).where(Chat.id == chat_id))
        ).one()
    return bool(row.pinned), bool(row.archived)


async def _ids(bastion: Bastion, token: str, path: str) -> list[str]:
    response = await bastion.client.get(path, headers=_auth(token))
    assert response.status_code == 200, response.text
    return [chat["id"] for chat in response.json()["chats"]]


async def test_pin_toggles_and_the_pinned_list_holds_the_pinned_chats(bastion: Bastion) -> None:
    token = (await bastion.signup("a@example.com"))["token"]
    first = (await _new_chat(bastion, token, "First"))["id"]
    second = (await _new_chat(bastion, token, "Second"))["id"]
    pinned = await bastion.client.post(f"/api/v1/chats/{first}/pin", headers=_auth(token))
    assert pinned.status_code == 200
    assert (pinned.json()["id"], pinned.json()["pinned"], pinned.json()["archived"]) == (
        first,
        True,
        False,
    )
    assert await _flags(bastion, first) == (True, False)
    assert await _ids(bastion, token, "/api/v1/chats/pinned") == [first]
    status = await bastion.client.get(f"/api/v1/chats/{first}/pinned", headers=_auth(token))
    assert status.json() is True
    # Pinned chats stay in the list.
    assert set(await _ids(bastion, token, "/api/v1/chats/")) == {first, second}
    unpinned = await bastion.client.post(f"/api/v1/chats/{first}/pin", headers=_auth(token))
    assert unpinned.json()["pinned"] is False
    assert await _flags(bastion, first) == (False, False)
    assert await _ids(bastion, token, "/api/v1/chats/pinned") == []


async def test_an_archived_chat_leaves_the_list_search_and_pins_until_unarchived(
    bastion: Bastion,
) -> None:
    token = (await bastion.signup("a@example.com"))["token"]
    kept = (await _new_chat(bastion, token, "Kept"))["id"]
    chat_id = (await _new_chat(bastion, token, "Old notes"))["id"]
    await bastion.client.post(f"/api/v1/chats/{chat_id}/pin", headers=_auth(token))
    archived = await bastion.client.post(f"/api/v1/chats/{chat_id}/archive", headers=_auth(token))
    assert archived.status_code == 200
    assert archived.json()["archived"] is True
    assert await _flags(bastion, chat_id) == (True, True)
    listed = await bastion.client.get("/api/v1/chats/", headers=_auth(token))
    assert [chat["id"] for chat in listed.json()["chats"]] == [kept]
    assert listed.json()["total"] == 1
    assert await _ids(bastion, token, "/api/v1/chats/archived") == [chat_id]
    assert await _ids(bastion, token, "/api/v1/chats/pinned") == []
    assert (await _search(bastion, token, "old notes"))["total"] == 0
    # Still the owner's to read, and the same toggle brings it back.
    read = await bastion.client.get(f"/api/v1/chats/{chat_id}", headers=_auth(token))
    assert read.json()["archived"] is True
    back = await bastion.client.post(f"/api/v1/chats/{chat_id}/archive", headers=_auth(token))
    assert back.json()["archived"] is False
    assert set(await _ids(bastion, token, "/api/v1/chats/")) == {kept, chat_id}
    assert await _ids(bastion, token, "/api/v1/chats/archived") == []


async def test_only_the_owner_pins_or_archives_a_chat(bastion: Bastion) -> None:
    owner = (await bastion.signup("owner@example.com"))["token"]
    other = (await bastion.signup("other@example.com"))["token"]
    chat_id = (await _new_chat(bastion, owner))["id"]
    for method, path in [
        ("POST", "pin"),
        ("POST", "archive"),
        ("GET", "pinned"),
    ]:
        response = await bastion.client.request(
            method, f"/api/v1/chats/{chat_id}/{path}", headers=_auth(other)
        )
        assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert await _flags(bastion, chat_id) == (False, False)
    assert await _ids(bastion, other, "/api/v1/chats/archived") == []


async def test_a_share_link_does_not_show_how_the_owner_files_the_chat(bastion: Bastion) -> None:
    owner = (await bastion.signup("owner@example.com"))["token"]
    chat_id = (await _new_chat(bastion, owner))["id"]
    await bastion.client.post(f"/api/v1/chats/{chat_id}/pin", headers=_auth(owner))
    share_id = (
        await bastion.client.post(f"/api/v1/chats/{chat_id}/share", headers=_auth(owner))
    ).json()["share_id"]
    shared = await bastion.client.get(f"/api/v1/chats/share/{share_id}", headers=_auth(owner))
    assert set(shared.json()) == {"id", "title", "chat", "share_id", "created_at", "updated_at"}


async def _tag(bastion: Bastion, token: str, chat_id: str, name: str, method: str = "POST") -> list:
    response = await bastion.client.request(
        method, f"/api/v1/chats/{chat_id}/tags", json={"name": name}, headers=_auth(token)
    )
    assert response.status_code == 200, response.text
    return list(response.json())


async def test_tags_are_added_listed_and_removed_in_open_webuis_shape(bastion: Bastion) -> None:
    me = await bastion.signup("a@example.com")
    token = me["token"]
    chat_id = (await _new_chat(bastion, token))["id"]
    tags = await _tag(bastion, token, chat_id, "Work Stuff")
    assert tags == [{"id": "work_stuff", "name": "Work Stuff", "user_id": me["id"], "meta": None}]
    # The same tag in another case is the same tag: nothing is added twice.
    assert [t["id"] for t in await _tag(bastion, token, chat_id, "work stuff")] == ["work_stuff"]
    assert [t["id"] for t in await _tag(bastion, token, chat_id, "<b>urgent</b>")] == [
        "work_stuff",
        "<b>urgent</b>",
    ]
    read = await bastion.client.get(f"/api/v1/chats/{chat_id}/tags", headers=_auth(token))
    assert [t["name"] for t in read.json()] == ["Work Stuff", "<b>urgent</b>"]
    chat = await bastion.client.get(f"/api/v1/chats/{chat_id}", headers=_auth(token))
    assert chat.json()["meta"] == {"tags": ["work_stuff", "<b>urgent</b>"]}
    async with bastion.services.db.session() as session:
        stored = (await session.execute(select(ChatTag.tag_id, ChatTag.name))).all()
    assert sorted(stored) == [("<b>urgent</b>", "<b>urgent</b>"), ("work_stuff", "Work Stuff")]
    left = await _tag(bastion, token, chat_id, "WORK STUFF", method="DELETE")
    assert [t["id"] for t in left] == ["<b>urgent</b>"]


async def test_a_users_tags_are_the_ones_on_their_chats_and_find_those_chats(
    bastion: Bastion,
) -> None:
    token = (await bastion.signup("a@example.com"))["token"]
    other = (await bastion.signup("b@example.com"))["token"]
    first = (await _new_chat(bastion, token, "First"))["id"]
    second = (await _new_chat(bastion, token, "Second"))["id"]
    theirs = (await _new_chat(bastion, other, "Theirs"))["id"]
    await _tag(bastion, token, first, "ideas")
    await _tag(bastion, token, second, "ideas")
    await _tag(bastion, token, second, "later")
    await _tag(bastion, other, theirs, "ideas")
    await _tag(bastion, other, theirs, "secret")
    mine = await bastion.client.get("/api/v1/chats/all/tags", headers=_auth(token))
    assert [t["id"] for t in mine.json()] == ["ideas", "later"]
    tagged = await bastion.client.post(
        "/api/v1/chats/tags", json={"name": "Ideas"}, headers=_auth(token)
    )
    assert {c["id"] for c in tagged.json()["chats"]} == {first, second}
    assert tagged.json()["total"] == 2
    paged = await bastion.client.post(
        "/api/v1/chats/tags", json={"name": "ideas", "skip": 1, "limit": 1}, headers=_auth(token)
    )
    assert (len(paged.json()["chats"]), paged.json()["total"]) == (1, 2)
    # A tag on no chat any more is gone; deleting a chat takes its tags with it.
    await _tag(bastion, token, second, "later", method="DELETE")
    await bastion.client.delete(f"/api/v1/chats/{first}", headers=_auth(token))
    mine = await bastion.client.get("/api/v1/chats/all/tags", headers=_auth(token))
    assert [t["id"] for t in mine.json()] == ["ideas"]
    await bastion.client.post(f"/api/v1/chats/{second}/archive", headers=_auth(token))
    tagged = await bastion.client.post(
        "/api/v1/chats/tags", json={"name": "ideas"}, headers=_auth(token)
    )
    assert tagged.json() == {"chats": [], "total": 0}


@pytest.mark.parametrize("name", ["", "   ", "None", "x" * 101, "bad\x00name"])
async def test_a_tag_name_that_is_empty_none_too_long_or_has_controls_is_refused(
    bastion: Bastion, name: str
) -> None:
    token = (await bastion.signup("a@example.com"))["token"]
    chat_id = (await _new_chat(bastion, token))["id"]
    response = await bastion.client.post(
        f"/api/v1/chats/{chat_id}/tags", json={"name": name}, headers=_auth(token)
    )
    assert response.status_code == 422
    async with bastion.services.db.session() as session:
        assert (await session.scalar(select(func.count()).select_from(ChatTag))) == 0


async def test_only_the_owner_reads_or_changes_a_chats_tags(bastion: Bastion) -> None:
    owner = (await bastion.signup("owner@example.com"))["token"]
    other = (await bastion.signup("other@example.com"))["token"]
    chat_id = (await _new_chat(bastion, owner))["id"]
    await _tag(bastion, owner, chat_id, "mine")
    for method in ("GET", "POST", "DELETE"):
        response = await bastion.client.request(
            method,
            f"/api/v1/chats/{chat_id}/tags",
            json=None if method == "GET" else {"name": "mine"},
            headers=_auth(other),
        )
        assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert [t["id"] for t in await _tag(bastion, owner, chat_id, "mine")] == ["mine"]


def _tree_chat() -> dict:
    """hello → (answer-1 | answer-2 → follow-up), answer-2's branch shown."""

    def message(mid: str, parent: str | None, children: list[str], role: str) -> dict:
        return {
            "id": mid,
            "parentId": parent,
            "childrenIds": children,
            "role": role,
            "content": f"text of {mid}",
        }

    messages = {
        "hello": message("hello", None, ["answer-1", "answer-2"], "user"),
        "answer-1": message("answer-1", "hello", [], "assistant"),
        "answer-2": message("answer-2", "hello", ["follow-up"], "assistant"),
        "follow-up": message("follow-up", "answer-2", [], "user"),
    }
    return {"title": "Tree", "history": {"messages": messages, "currentId": "follow-up"}}


async def _stored_chat(bastion: Bastion, chat_id: str) -> dict:
    async with bastion.services.db.session() as session:
        stored = await session.scalar(select(Chat.chat).where(Chat.id == chat_id))
    assert isinstance(stored, dict)
    return stored


async def _tree_chat_id(bastion: Bastion, token: str) -> str:
    response = await bastion.client.post(
        "/api/v1/chats/new", json={"chat": _tree_chat()}, headers=_auth(token)
    )
    return str(response.json()["id"])


async def test_one_message_is_edited_in_the_tree_and_the_shown_branch(bastion: Bastion) -> None:
    token = (await bastion.signup("a@example.com"))["token"]
    chat_id = await _tree_chat_id(bastion, token)
    edited = await bastion.client.post(
        f"/api/v1/chats/{chat_id}/messages/answer-2",
        json={"content": "Better <b>answer</b>"},
        headers=_auth(token),
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["chat"]["history"]["messages"]["answer-2"]["content"] == (
        "Better <b>answer</b>"
    )
    stored = await _stored_chat(bastion, chat_id)
    assert stored["history"]["currentId"] == "follow-up"
    assert [(m["id"], m["content"]) for m in stored["messages"]] == [
        ("hello", "text of hello"),
        ("answer-2", "Better <b>answer</b>"),
        ("follow-up", "text of follow-up"),
    ]
    assert stored["history"]["messages"]["answer-1"]["content"] == "text of answer-1"
    assert (await _search(bastion, token, "better <b>"))["total"] == 1


async def test_deleting_a_message_moves_its_replies_up_to_its_place(bastion: Bastion) -> None:
    token = (await bastion.signup("a@example.com"))["token"]
    chat_id = await _tree_chat_id(bastion, token)
    deleted = await bastion.client.delete(
        f"/api/v1/chats/{chat_id}/messages/answer-2", headers=_auth(token)
    )
    assert deleted.status_code == 200, deleted.text
    stored = await _stored_chat(bastion, chat_id)
    messages = stored["history"]["messages"]
    assert set(messages) == {"hello", "answer-1", "follow-up"}
    assert messages["hello"]["childrenIds"] == ["answer-1", "follow-up"]
    assert messages["follow-up"]["parentId"] == "hello"
    assert [m["id"] for m in stored["messages"]] == ["hello", "follow-up"]
    # The shown message itself: the branch shown is then its parent's last other reply.
    await bastion.client.delete(f"/api/v1/chats/{chat_id}/messages/follow-up", headers=_auth(token))
    stored = await _stored_chat(bastion, chat_id)
    assert stored["history"]["currentId"] == "answer-1"
    assert [m["id"] for m in stored["messages"]] == ["hello", "answer-1"]
    assert stored["history"]["messages"]["hello"]["childrenIds"] == ["answer-1"]


async def test_a_message_in_a_chat_with_only_a_list_is_deleted_from_the_list(
    bastion: Bastion,
) -> None:
    token = (await bastion.signup("a@example.com"))["token"]
    messages = [
        {"id": "q", "role": "user", "content": "hi"},
        {"id": "a", "role": "assistant", "content": "hello"},
        {"id": "q2", "role": "user", "content": "again"},
    ]
    response = await bastion.client.post(
        "/api/v1/chats/new", json={"chat": {"messages": messages}}, headers=_auth(token)
    )
    chat_id = response.json()["id"]
    await bastion.client.delete(f"/api/v1/chats/{chat_id}/messages/a", headers=_auth(token))
    stored = await _stored_chat(bastion, chat_id)
    assert [(m["id"], m["parentId"]) for m in stored["messages"]] == [("q", None), ("q2", "q")]
    assert stored["history"]["currentId"] == "q2"


async def test_only_the_owner_edits_or_deletes_a_message_and_unknown_ones_are_404(
    bastion: Bastion,
) -> None:
    owner = (await bastion.signup("owner@example.com"))["token"]
    other = (await bastion.signup("other@example.com"))["token"]
    chat_id = await _tree_chat_id(bastion, owner)
    before = await _stored_chat(bastion, chat_id)
    for method, token, message, detail in [
        ("POST", other, "hello", "No such chat."),
        ("DELETE", other, "hello", "No such chat."),
        ("POST", owner, "nope", "No such message."),
        ("DELETE", owner, "nope", "No such message."),
    ]:
        response = await bastion.client.request(
            method,
            f"/api/v1/chats/{chat_id}/messages/{message}",
            json={"content": "x"} if method == "POST" else None,
            headers=_auth(token),
        )
        assert (response.status_code, response.json()["detail"]) == (404, detail)
    assert await _stored_chat(bastion, chat_id) == before
    control = await bastion.client.post(
        f"/api/v1/chats/{chat_id}/messages/hello",
        json={"content": "bell\x07"},
        headers=_auth(owner),
    )
    assert control.status_code == 422
