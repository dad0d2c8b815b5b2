"""``/api/v1/files``: each user's uploads.

Only the owner reads, downloads or deletes a file; anyone else, administrators included,
gets the 404 of a missing file. Files are chat attachments and documents: private data
that administration does not need to read (an admin removes an account, not its files
one by one).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.requests import ClientDisconnect

from bastion.api.deps import ServicesDep, VerifiedUser, require_permission
from bastion.auth.authenticate import Principal
from bastion.auth.rbac import ensure_owner
from bastion.errors import BastionError, NotFound
from bastion.files.service import BadUpload
from bastion.files.sniff import INLINE_TYPES
from bastion.services import Services
from bastion.store.files import FileRecord

router = APIRouter(prefix="/api/v1/files", tags=["files"])

_UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9 !#$&+\-.^_`|~()\[\]{}@=,\']")


def content_disposition(filename: str, *, inline: bool) -> str:
    """RFC 6266: an ASCII fallback name plus the exact name as ``filename*``.

    Quotes, backslashes, semicolons and line breaks cannot reach the header: the
    fallback replaces them and ``filename*`` percent-encodes everything but RFC 5987
    attr-chars, so a name cannot inject a parameter or a header.
    """
    fallback = _UNSAFE_ASCII.sub("_", filename) or "file"
    encoded = quote(filename, safe="!#$&+-.^_`|~")
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


async def _owned(
    services: Services, request: Request, principal: Principal, file_id: str
) -> FileRecord:
    record = await services.files.get(file_id)
    if record is None:
        raise NotFound("No such file.")
    try:
        ensure_owner(principal, record.user_id, what="file")
    except NotFound:
        services.events.record(
            "file.access_denied",
            outcome="denied",
            scope=request.scope,
            actor=principal,
            file_id=file_id,
        )
        raise
    return record


async def _body(request: Request) -> AsyncIterator[bytes]:
    try:
        async for chunk in request.stream():
            yield chunk
    except ClientDisconnect:
        raise BadUpload("The upload was interrupted.", code="upload_interrupted") from None


@router.post("/")
async def upload_file(
    request: Request, principal: VerifiedUser, services: ServicesDep
) -> dict[str, Any]:
    await require_permission(services, request, principal, "chat.file_upload")
    try:
        record = await services.files.upload(
            principal.user.id, request.headers.get("content-type", ""), _body(request)
        )
    except BastionError as refused:
        services.events.record(
            "file.upload_refused",
            outcome="denied",
            scope=request.scope,
            actor=principal,
            reason=refused.code,
        )
        raise
    services.events.record(
        "file.uploaded",
        scope=request.scope,
        actor=principal,
        file_id=record.id,
        size=record.size,
        content_type=record.content_type,
    )
    return record.public()


@router.get("/")
async def list_files(principal: VerifiedUser, services: ServicesDep) -> list[dict[str, Any]]:
    return [record.public() for record in await services.files.list(principal.user.id)]


@router.get("/{file_id}")
async def get_file(
    file_id: str, request: Request, principal: VerifiedUser, services: ServicesDep
) -> dict[str, Any]:
    return (await _owned(services, request, principal, file_id)).public()


@router.get("/{file_id}/content")
async def download_file(
    file_id: str, request: Request, principal: VerifiedUser, services: ServicesDep
) -> StreamingResponse:
    record = await _owned(services, request, principal, file_id)
    chunks = await services.files.content(record)
    return StreamingResponse(
        chunks,
        media_type=record.content_type,
        headers={
            "Content-Disposition": content_disposition(
                record.filename, inline=record.content_type in INLINE_TYPES
            ),
            "Content-Length": str(record.size),
            "X-Content-Type-Options": "nosniff",
            # Even if a browser rendered it, the download runs no script and loads nothing.
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


@router.delete("/{file_id}")
async def delete_file(
    file_id: str, request: Request, principal: VerifiedUser, services: ServicesDep
) -> dict[str, bool]:
    record = await _owned(services, request, principal, file_id)
    await services.files.delete(record)
    services.events.record(
        "file.deleted",
        scope=request.scope,
        actor=principal,
        file_id=record.id,
    )
    return {"status": True}
