"""``/api/v1/chats``: a user's own conversations, and read-only share links.

Every query is scoped to the caller, so another user's chat id answers 404 exactly like
one that does not exist. A share link is a random id (192 bits) that any signed-in user
may read, never write; revoking it or sharing again makes the old link dead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, field_validator

from bastion.api.deps import ServicesDep, VerifiedUser, require_permission
from bastion.api.forms import Skip, SkipField
from bastion.auth.authenticate import Principal
from bastion.chats.history import NoSuchMessage, delete_message, edit_message
from bastion.errors import NotFound
from bastion.jsondata import StoredJSON, StoredText
from bastion.services import Services
from bastion.store.chats import ChatRecord, TagList, tag_id

router = APIRouter(prefix="/api/v1/chats", tags=["chats"])


class NewChat(BaseModel):
    chat: StoredJSON = Field(default_factory=dict)
    title: StoredText | None = Field(default=None, max_length=500)


class ChatUpdate(BaseModel):
    # Merged into the stored chat key by key: a rename alone keeps the history.
    chat: StoredJSON | None = None
    title: StoredText | None = Field(default=None, max_length=500)


class TagForm(BaseModel):
    name: StoredText = Field(min_length=1, max_length=100)

    @field_validator("name")
    @classmethod
    def _named(cls, name: str) -> str:
        # open-webui's rule: "None" is what its filter shows for untagged chats.
        if not name.strip() or tag_id(name) == "none":
            raise ValueError("A tag needs a name other than 'None'.")
        return name


class TagFilter(TagForm):
    skip: SkipField = 0
    limit: int = Field(default=50, ge=1, le=500)


class FolderChoice(BaseModel):
    folder_id: str | None = Field(default=None, max_length=36)


class MessageForm(BaseModel):
    content: StoredText


def _title(form: NewChat | ChatUpdate) -> str | None:
    title = form.title
    if title is None and form.chat is not None and isinstance(form.chat.get("title"), str):
        title = form.chat["title"]
    return None if title is None else title[:500]


def _found(chat: ChatRecord | None) -> ChatRecord:
    if chat is None:
        raise NotFound("No such chat.")
    return chat


def _record_event(
    services: Services, request: Request, principal: Principal, event: str, chat_id: str
) -> None:
    services.events.record(
        event,
        scope=request.scope,
        actor=principal,
        chat_id=chat_id,
    )


@router.post("/new")
async def create_chat(
    form: NewChat, principal: VerifiedUser, services: ServicesDep
) -> dict[str, Any]:
    chat = await services.chats.create(principal.user.id, _title(form) or "New Chat", form.chat)
    return chat.public()


def _page(chats: list[ChatRecord], total: int) -> dict[str, Any]:
    return {"chats": [chat.public() for chat in chats], "total": total}


Limit = Annotated[int, Query(ge=1, le=500)]


@router.get("/")
async def list_chats(
    principal: VerifiedUser, services: ServicesDep, skip: Skip = 0, limit: Limit = 50
) -> dict[str, Any]:
    """The caller's chats but the archived ones, newest first."""
    return _page(*await services.chats.list(principal.user.id, skip=skip, limit=limit))


@router.get("/pinned")
async def list_pinned_chats(
    principal: VerifiedUser, services: ServicesDep, skip: Skip = 0, limit: Limit = 50
) -> dict[str, Any]:
    chats = await services.chats.list(principal.user.id, skip=skip, limit=limit, pinned=True)
    return _page(*chats)


@router.get("/archived")
async def list_archived_chats(
    principal: VerifiedUser, services: ServicesDep, skip: Skip = 0, limit: Limit = 50
) -> dict[str, Any]:
    chats = await services.chats.list(principal.user.id, skip=skip, limit=limit, archived=True)
    return _page(*chats)


@router.get("/search")
async def search_chats(
    principal: VerifiedUser,
    services: ServicesDep,
    text: Annotated[str, Query(max_length=500)],
    skip: Skip = 0,
    limit: Limit = 50,
) -> dict[str, Any]:
    """The caller's chats (not archived) whose title or messages hold ``text``, any case."""
    chats = await services.chats.list(principal.user.id, skip=skip, limit=limit, text=text.strip())
    return _page(*chats)


@router.get("/all/tags")
async def list_tags(principal: VerifiedUser, services: ServicesDep) -> list[dict[str, Any]]:
    """Every tag on one of the caller's chats."""
    return [tag.public() for tag in await services.chats.user_tags(principal.user.id)]


@router.post("/tags")
async def list_chats_by_tag(
    form: TagFilter, principal: VerifiedUser, services: ServicesDep
) -> dict[str, Any]:
    """The caller's chats (not archived) that carry the tag (open-webui's POST)."""
    chats = await services.chats.list(
        principal.user.id, skip=form.skip, limit=form.limit, tag=tag_id(form.name)
    )
    return _page(*chats)


@router.get("/folder/{folder_id}")
async def list_chats_in_folder(
    folder_id: str,
    principal: VerifiedUser,
    services: ServicesDep,
    skip: Skip = 0,
    limit: Limit = 50,
) -> dict[str, Any]:
    """The caller's chats (not archived) in one of their folders."""
    if await services.folders.get(principal.user.id, folder_id) is None:
        raise NotFound("No such folder.")
    chats = await services.chats.list(
        principal.user.id, skip=skip, limit=limit, folder_id=folder_id
    )
    return _page(*chats)


@router.get("/share/{share_id}")
async def read_shared_chat(share_id: str, _: VerifiedUser, services: ServicesDep) -> dict[str, Any]:
    chat = _found(await services.chats.get_shared(share_id))
    return chat.read_only()


@router.get("/{chat_id}")
async def read_chat(chat_id: str, principal: VerifiedUser, services: ServicesDep) -> dict[str, Any]:
    return _found(await services.chats.get(principal.user.id, chat_id)).public()


@router.post("/{chat_id}")
async def update_chat(
    chat_id: str, form: ChatUpdate, principal: VerifiedUser, services: ServicesDep
) -> dict[str, Any]:
    chat = await services.chats.update(
        principal.user.id, chat_id, title=_title(form), chat=form.chat
    )
    return _found(chat).public()


@router.delete("/{chat_id}")
async def delete_chat(
    chat_id: str, principal: VerifiedUser, services: ServicesDep
) -> dict[str, bool]:
    if not await services.chats.delete(principal.user.id, chat_id):
        raise NotFound("No such chat.")
    return {"status": True}


@router.get("/{chat_id}/pinned")
async def read_pinned(chat_id: str, principal: VerifiedUser, services: ServicesDep) -> bool:
    return _found(await services.chats.get(principal.user.id, chat_id)).pinned


@router.post("/{chat_id}/pin")
async def toggle_pinned(
    chat_id: str, principal: VerifiedUser, services: ServicesDep
) -> dict[str, Any]:
    """Pins the chat, or unpins a pinned one (open-webui's toggle)."""
    return _found(await services.chats.toggle(principal.user.id, chat_id, "pinned")).public()


@router.post("/{chat_id}/archive")
async def toggle_archived(
    chat_id: str, principal: VerifiedUser, services: ServicesDep
) -> dict[str, Any]:
    """Archives the chat (it leaves the list), or brings an archived one back."""
    return _found(await services.chats.toggle(principal.user.id, chat_id, "archived")).public()


@router.post("/{chat_id}/folder")
async def move_chat(
    chat_id: str, form: FolderChoice, principal: VerifiedUser, services: ServicesDep
) -> dict[str, Any]:
    """Puts the chat in one of the caller's folders, or (``folder_id`` null) in none."""
    return _found(await services.chats.move(principal.user.id, chat_id, form.folder_id)).public()


async def _change_message(
    services: Services,
    user_id: str,
    chat_id: str,
    change: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    try:
        chat = await services.chats.change(user_id, chat_id, lambda stored, _: change(stored))
    except NoSuchMessage:
        raise NotFound("No such message.") from None
    return _found(chat).public()


@router.post("/{chat_id}/messages/{message_id}")
async def edit_chat_message(
    chat_id: str,
    message_id: str,
    form: MessageForm,
    principal: VerifiedUser,
    services: ServicesDep,
) -> dict[str, Any]:
    """One message's text replaced (open-webui's route); the chat as it is then."""
    return await _change_message(
        services,
        principal.user.id,
        chat_id,
        lambda chat: edit_message(chat, message_id, form.content),
    )


@router.delete("/{chat_id}/messages/{message_id}")
async def delete_chat_message(
    chat_id: str, message_id: str, principal: VerifiedUser, services: ServicesDep
) -> dict[str, Any]:
    """One message gone, its replies moved up to its place; the chat as it is then."""
    return await _change_message(
        services, principal.user.id, chat_id, lambda chat: delete_message(chat, message_id)
    )


def _tags(tags: TagList | None) -> list[dict[str, Any]]:
    if tags is None:
        raise NotFound("No such chat.")
    return [tag.public() for tag in tags]


@router.get("/{chat_id}/tags")
async def read_tags(
    chat_id: str, principal: VerifiedUser, services: ServicesDep
) -> list[dict[str, Any]]:
    return _tags(await services.chats.tags_of(principal.user.id, chat_id))


@router.post("/{chat_id}/tags")
async def add_tag(
    chat_id: str, form: TagForm, principal: VerifiedUser, services: ServicesDep
) -> list[dict[str, Any]]:
    """The chat's tags once ``name`` is among them."""
    return _tags(await services.chats.add_tag(principal.user.id, chat_id, form.name))


@router.delete("/{chat_id}/tags")
async def remove_tag(
    chat_id: str, form: TagForm, principal: VerifiedUser, services: ServicesDep
) -> list[dict[str, Any]]:
    """The chat's tags once ``name`` is not among them."""
    return _tags(await services.chats.remove_tag(principal.user.id, chat_id, form.name))


@router.post("/{chat_id}/share")
async def share_chat(
    chat_id: str, request: Request, principal: VerifiedUser, services: ServicesDep
) -> dict[str, Any]:
    await require_permission(services, request, principal, "chat.share")
    share_id = await services.chats.share(principal.user.id, chat_id)
    if share_id is None:
        raise NotFound("No such chat.")
    _record_event(services, request, principal, "chat.shared", chat_id)
    return {"id": chat_id, "share_id": share_id}


@router.delete("/{chat_id}/share")
async def unshare_chat(
    chat_id: str, request: Request, principal: VerifiedUser, services: ServicesDep
) -> dict[str, bool]:
    if not await services.chats.unshare(principal.user.id, chat_id):
        raise NotFound("No such chat.")
    _record_event(services, request, principal, "chat.unshared", chat_id)
    return {"status": True}
