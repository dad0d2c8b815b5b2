"""Uploads: a multipart body streamed straight into ``UPLOAD_DIR``, then one row.

The body is parsed as it arrives and the file part written as it is parsed, so the size
cap holds while streaming and no copy of the upload lands in a temporary directory
outside ``UPLOAD_DIR``. The stored type comes from the bytes (:mod:`bastion.files.sniff`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from bastion.errors import BastionError
from bastion.files.sniff import sniff
from bastion.files.storage import UnsafeName, UploadDir, UploadWriter, storage_name
from bastion.jsondata import InvalidJSON, parse_json, stored_json_problem
from bastion.store.db import Database
from bastion.store.files import FileRecord, FileStore

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

MAX_NAME_LENGTH = 255
MAX_METADATA_BYTES = 8 * 1024


class BadUpload(BastionError):
    code = "invalid_upload"
    detail = "Send one file as multipart/form-data in a field named 'file'."


class InvalidMetadata(BadUpload):
    code = "invalid_metadata"
    detail = f"The metadata must be a JSON object of at most {MAX_METADATA_BYTES} bytes."


def _metadata(raw: bytes) -> dict[str, Any]:
    try:
        value = parse_json(raw)
    except InvalidJSON as invalid:
        raise InvalidMetadata(f"The metadata is not valid JSON: {invalid.detail}") from None
    if not isinstance(value, dict) or stored_json_problem(value) is not None:
        raise InvalidMetadata
    return value


def clean_filename(raw: str) -> str:
    """The user's file name as data: last path component, no control characters."""
    name = unicodedata.normalize("NFC", raw).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    if name in {"", ".", ".."}:
        name = "file"
    return name[:MAX_NAME_LENGTH]


class _Parts:
    """Collects the parser's callbacks into events handled after each ``write``."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self._field = b""
        self._value = b""
        self.headers: dict[bytes, bytes] = {}

    def callbacks(self) -> MultipartCallbacks:
        def on_part_begin() -> None:
            self.headers = {}

        def on_header_field(data: bytes, start: int, end: int) -> None:
            self._field += data[start:end]

        def on_header_value(data: bytes, start: int, end: int) -> None:
            self._value += data[start:end]

        def on_header_end() -> None:
            self.headers[self._field.lower()] = self._value
            self._field = self._value = b""

        def on_headers_finished() -> None:
            self.events.append(("part", dict(self.headers)))

        def on_part_data(data: bytes, start: int, end: int) -> None:
            self.events.append(("data", data[start:end]))

        def on_part_end() -> None:
            self.events.append(("end", None))

        return {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        }


class Files:
    """Each user's uploads: rows in :class:`FileStore`, bytes in :class:`UploadDir`."""

    def __init__(self, db: Database, uploads: UploadDir, *, clock: Callable[[], float]) -> None:
        self._store = FileStore(db)
        self.uploads = uploads
        self._clock = clock

    async def upload(
        self, user_id: str, content_type: str, body: AsyncIterator[bytes]
    ) -> FileRecord:
        kind, params = parse_options_header(content_type)
        boundary = params.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise BadUpload
        parts = _Parts()
        parser = MultipartParser(boundary, parts.callbacks())
        writer: UploadWriter | None = None
        filename = claimed = ""
        in_file = in_metadata = done = False
        metadata: bytearray | None = None
        try:
            async for chunk in body:
                parser.write(chunk)
                for event, value in parts.events:
                    if event == "part":
                        disposition = parse_options_header(value.get(b"content-disposition"))[1]
                        in_file = disposition.get(b"name") == b"file" and b"filename" in disposition
                        # open-webui's optional form field: JSON kept with the file.
                        in_metadata = disposition.get(b"name") == b"metadata" and not in_file
                        if in_metadata:
                            if metadata is not None:
                                raise InvalidMetadata("Send the metadata once.")
                            metadata = bytearray()
                        if in_file and (writer is not None or done):
                            raise BadUpload("Send exactly one file.")
                        if in_file:
                            filename = disposition[b"filename"].decode("utf-8", "replace")
                            claimed = value.get(b"content-type", b"").decode("latin-1")
                            writer = await self.uploads.new_writer()
                    elif event == "data" and in_file and writer is not None:
                        await writer.write(value)
                    elif event == "data" and in_metadata and metadata is not None:
                        metadata += value
                        if len(metadata) > MAX_METADATA_BYTES:
                            raise InvalidMetadata
                    elif event == "end" and in_file:
                        in_file, done = False, True
                    elif event == "end":
                        in_metadata = False
                parts.events.clear()
            parser.finalize()
            if writer is None or not done:
                raise BadUpload
            if writer.size == 0:
                raise BadUpload("The file is empty.", code="empty_file")
            meta = None if metadata is None else _metadata(bytes(metadata))
            media_type = sniff(writer.head, claimed)
            await writer.finish()
            record = FileRecord(
                id=writer.file_id,
                user_id=user_id,
                filename=clean_filename(filename),
                content_type=media_type,
                size=writer.size,
                sha256=writer.sha256,
                created_at=datetime.fromtimestamp(self._clock(), UTC),
                meta=meta,
            )
            await self._store.add(record)
            return record
        except BaseException as failure:
            if writer is not None:
                # Shielded: a client that hangs up mid-upload must not leave a partial file.
                with anyio.CancelScope(shield=True):
                    await writer.discard()
            if isinstance(failure, FormParserError):
                raise BadUpload from None
            raise

    async def get(self, file_id: str) -> FileRecord | None:
        try:
            storage_name(file_id)
        except UnsafeName:
            return None
        return await self._store.get(file_id)

    async def content(self, record: FileRecord) -> AsyncIterator[bytes]:
        """The stored bytes of ``record``, opened now, read in chunks as iterated."""
        return await self.uploads.open(record.id)

    async def list(self, user_id: str) -> Sequence[FileRecord]:
        return await self._store.list(user_id)

    async def delete(self, record: FileRecord) -> None:
        await self._store.delete(record.id)
        await self.uploads.delete(record.id)

    async def delete_all(self, user_id: str) -> int:
        """Delete every file of an account (when the account goes, its data goes too)."""
        records = await self.list(user_id)
        for record in records:
            await self.delete(record)
        return len(records)
