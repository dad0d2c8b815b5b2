"""UPLOAD_DIR containment: names, the path join, symlinks, and the size cap."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.errors import NotFound
from bastion.files.storage import (
    FileTooLarge,
    UnsafeName,
    UploadDir,
    contained_path,
    storage_name,
)

TRAVERSALS = [
    "../secret",
    "..",
    ".",
    "",
    "/etc/passwd",
    "..\\secret",
    "a/../../secret",
    "secret\x00.txt",
    "\\\\server\\share",
]


@given(st.text())
def test_no_name_ever_resolves_outside_the_upload_dir(name: str) -> None:
    root = Path("/srv/uploads")
    try:
        path = contained_path(root, name)
    except UnsafeName:
        return
    assert path.parent == root
    assert os.path.commonpath([path, root]) == str(root)


@given(st.text())
def test_only_canonical_uuids_are_storage_names(text: str) -> None:
    try:
        name = storage_name(text)
    except UnsafeName:
        return
    assert text == str(uuid.UUID(text))
    assert name == uuid.UUID(text).hex


@pytest.mark.parametrize("name", TRAVERSALS)
def test_traversal_names_are_refused(name: str) -> None:
    with pytest.raises(UnsafeName):
        contained_path(Path("/srv/uploads"), name)
    with pytest.raises(UnsafeName):
        storage_name(name)


@pytest.mark.parametrize("name", ["%2e%2e%2fsecret", "%252e%252e%252fsecret", "..%2fsecret"])
def test_encoded_traversals_are_not_storage_names(name: str) -> None:
    with pytest.raises(UnsafeName):
        storage_name(name)
    # Taken literally they are one odd name inside the directory, never a way out of it.
    assert contained_path(Path("/srv/uploads"), name) == Path("/srv/uploads") / name


def test_non_canonical_uuid_spellings_are_refused() -> None:
    file_id = uuid.uuid4()
    assert storage_name(str(file_id)) == file_id.hex
    for spelling in (file_id.hex, str(file_id).upper(), f"{{{file_id}}}", f"urn:uuid:{file_id}"):
        with pytest.raises(UnsafeName):
            storage_name(spelling)


async def test_a_symlink_planted_in_the_upload_dir_is_never_followed(tmp_path: Path) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    store = UploadDir(uploads, max_size=100)
    file_id = str(uuid.uuid4())
    (uploads / storage_name(file_id)).symlink_to(secret)
    with pytest.raises(NotFound):
        await store.open(file_id)
    await store.delete(file_id)
    assert secret.read_text() == "top secret"
    assert list(uploads.iterdir()) == []


async def test_a_directory_planted_under_a_file_name_is_not_read(tmp_path: Path) -> None:
    store = UploadDir(tmp_path, max_size=100)
    file_id = str(uuid.uuid4())
    (tmp_path / storage_name(file_id)).mkdir()
    with pytest.raises(NotFound):
        await store.open(file_id)


async def test_writes_stop_at_the_cap_and_leave_nothing_behind(tmp_path: Path) -> None:
    store = UploadDir(tmp_path, max_size=10)
    writer = await store.new_writer()
    await writer.write(b"0123456789")
    with pytest.raises(FileTooLarge):
        await writer.write(b"x")
    await writer.discard()
    assert os.listdir(tmp_path) == []


async def test_stored_files_are_private_and_read_back(tmp_path: Path) -> None:
    store = UploadDir(tmp_path, max_size=1000)
    writer = await store.new_writer()
    await writer.write(b"hello ")
    await writer.write(b"world")
    await writer.finish()
    (name,) = os.listdir(tmp_path)
    assert name == storage_name(writer.file_id)
    assert os.stat(tmp_path / name).st_mode & 0o777 == 0o600
    assert b"".join([chunk async for chunk in await store.open(writer.file_id)]) == b"hello world"
    assert writer.sha256 == "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
