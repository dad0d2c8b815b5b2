"""``/api/v1/folders``: a user's own folders of chats, in open-webui's routes and shapes.

Like chats, every query is scoped to the caller: another user's folder answers 404.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field, field_validator

from bastion.api.deps import ServicesDep, VerifiedUser
from bastion.errors import NotFound
from bastion.jsondata import StoredText
from bastion.store.folders import FolderRecord

router = APIRouter(prefix="/api/v1/folders", tags=["folders"])


class FolderForm(BaseModel):
    name: StoredText = Field(min_length=1, max_length=255)

    @field_validator("name")
    @classmethod
    def _named(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("A folder needs a name.")
        return name


class NewFolder(FolderForm):
    parent_id: str | None = Field(default=None, max_length=36)


class Expanded(BaseModel):
    is_expanded: bool


def _found(folder: FolderRecord | None) -> dict[str, Any]:
    if folder is None:
        raise NotFound("No such folder.")
    return folder.public()


@router.get("/")
async def list_folders(principal: VerifiedUser, services: ServicesDep) -> list[dict[str, Any]]:
    return [folder.public() for folder in await services.folders.list(principal.user.id)]


@router.post("/")
async def create_folder(
    form: NewFolder, principal: VerifiedUser, services: ServicesDep
) -> dict[str, Any]:
    folder = await services.folders.create(principal.user.id, form.name, form.parent_id)
    return folder.public()


@router.get("/{folder_id}")
async def read_folder(
    folder_id: str, principal: VerifiedUser, services: ServicesDep
) -> dict[str, Any]:
    return _found(await services.folders.get(principal.user.id, folder_id))


@router.post("/{folder_id}/update")
async def rename_folder(
    folder_id: str, form: FolderForm, principal: VerifiedUser, services: ServicesDep
) -> dict[str, Any]:
    return _found(await services.folders.rename(principal.user.id, folder_id, form.name))


@router.post("/{folder_id}/update/expanded")
async def expand_folder(
    folder_id: str, form: Expanded, principal: VerifiedUser, services: ServicesDep
) -> dict[str, Any]:
    folder = await services.folders.set_expanded(principal.user.id, folder_id, form.is_expanded)
    return _found(folder)


@router.delete("/{folder_id}")
async def delete_folder(
    folder_id: str,
    principal: VerifiedUser,
    services: ServicesDep,
    delete_contents: bool = True,
) -> bool:
    """The folder and those in it go; their chats too, or (``delete_contents=false``) they
    stay, in no folder. open-webui's default is to delete them."""
    if not await services.folders.delete(
        principal.user.id, folder_id, delete_contents=delete_contents
    ):
        raise NotFound("No such folder.")
    return True
