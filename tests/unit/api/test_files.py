"""``/api/v1/files``: uploads stay in UPLOAD_DIR, belong to their owner, download safely."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import quote

import pytest

from bastion.api.files import content_disposition
from bastion.app import create_app
from bastion.audit.events import MemorySink
from bastion.files.storage import storage_name
from tests.support import Bastion, StartBastion

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
MARKER = b"SENTINEL-7f3a9c"


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def files_bastion(start_bastion: StartBastion) -> Bastion:
    return await start_bastion({"DEFAULT_USER_ROLE": "user", "FILE_MAX_SIZE": "1"})


@pytest.fixture
def sentinel(tmp_path: Path, files_bastion: Bastion) -> Path:
    """Files next to and above UPLOAD_DIR that no request may read, write or delete."""
    directory = tmp_path / "sentinel"
    directory.mkdir()
    (directory / "secret.txt").write_bytes(MARKER)
    (files_bastion.settings.files.upload_dir.parent / "neighbour.txt").write_bytes(MARKER)
    return directory


def _snapshot(root: Path, upload_dir: Path) -> dict[str, tuple[int, int, str]]:
    """Each file under ``root`` but UPLOAD_DIR, the database, the audit log: size, mtime, hash."""
    seen = {}
    for directory, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if Path(directory, d) != upload_dir]
        for name in names:
            if name.startswith(("bastion.db", "audit.log")):
                continue
            path = Path(directory, name)
            stat = path.lstat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
            seen[str(path)] = (stat.st_size, stat.st_mtime_ns, digest)
    return seen


async def _upload(
    bastion: Bastion,
    token: str,
    content: bytes,
    filename: str = "notes.txt",
    content_type: str = "text/plain",
) -> tuple[int, dict]:
    response = await bastion.client.post(
        "/api/v1/files/",
        files={"file": (filename, content, content_type)},
        headers=_auth(token),
    )
    return response.status_code, response.json()


async def test_upload_list_read_download_delete(files_bastion: Bastion) -> None:
    owner = await files_bastion.signup("owner@example.com")
    status, stored = await _upload(files_bastion, owner["token"], b"hello world\n", "notes.txt")
    assert status == 200
    assert stored["filename"] == "notes.txt"
    assert stored["meta"] == {
        "name": "notes.txt",
        "content_type": "text/plain; charset=utf-8",
        "size": 12,
    }
    assert stored["hash"] == hashlib.sha256(b"hello world\n").hexdigest()
    on_disk = files_bastion.settings.files.upload_dir / storage_name(stored["id"])
    assert on_disk.read_bytes() == b"hello world\n"
    assert files_bastion.settings.files.upload_dir.stat().st_mode & 0o777 == 0o700

    listed = await files_bastion.client.get("/api/v1/files/", headers=_auth(owner["token"]))
    assert [entry["id"] for entry in listed.json()] == [stored["id"]]
    meta = await files_bastion.client.get(
        f"/api/v1/files/{stored['id']}", headers=_auth(owner["token"])
    )
    assert meta.json() == stored
    download = await files_bastion.client.get(
        f"/api/v1/files/{stored['id']}/content", headers=_auth(owner["token"])
    )
    assert download.status_code == 200
    assert download.content == b"hello world\n"
    assert download.headers["content-type"] == "text/plain; charset=utf-8"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-disposition"] == (
        "attachment; filename=\"notes.txt\"; filename*=UTF-8''notes.txt"
    )

    deleted = await files_bastion.client.delete(
        f"/api/v1/files/{stored['id']}", headers=_auth(owner["token"])
    )
    assert deleted.json() == {"status": True}
    assert not on_disk.exists()
    gone = await files_bastion.client.get(
        f"/api/v1/files/{stored['id']}", headers=_auth(owner["token"])
    )
    assert gone.status_code == 404


async def test_images_are_served_inline_and_everything_else_as_attachment(
    files_bastion: Bastion,
) -> None:
    owner = await files_bastion.signup("owner@example.com")
    _, image = await _upload(files_bastion, owner["token"], PNG, "chart.png", "image/png")
    _, pdf = await _upload(files_bastion, owner["token"], b"%PDF-1.7\n", "a.pdf", "image/png")
    image_download = await files_bastion.client.get(
        f"/api/v1/files/{image['id']}/content", headers=_auth(owner["token"])
    )
    assert image_download.headers["content-type"] == "image/png"
    assert image_download.headers["content-disposition"].startswith("inline;")
    pdf_download = await files_bastion.client.get(
        f"/api/v1/files/{pdf['id']}/content", headers=_auth(owner["token"])
    )
    # The claimed image/png is ignored: the bytes say PDF, and PDF is a download.
    assert pdf_download.headers["content-type"] == "application/pdf"
    assert pdf_download.headers["content-disposition"].startswith("attachment;")


async def test_the_original_name_is_data_and_travels_encoded(files_bastion: Bastion) -> None:
    owner = await files_bastion.signup("owner@example.com")
    boundary = "b0undary"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; '
        'filename="../r\u00e9sum\u00e9 \\"v2\\";x.txt"\r\n'
        f"\r\ncv\r\n--{boundary}--\r\n"
    ).encode()
    response = await files_bastion.client.post(
        "/api/v1/files/",
        content=body,
        headers={
            **_auth(owner["token"]),
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )
    stored = response.json()
    assert stored["filename"] == 'r\u00e9sum\u00e9 "v2";x.txt'
    download = await files_bastion.client.get(
        f"/api/v1/files/{stored['id']}/content", headers=_auth(owner["token"])
    )
    assert download.headers["content-disposition"] == (
        'attachment; filename="r_sum_ _v2__x.txt"; '
        "filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v2%22%3Bx.txt"
    )


@pytest.mark.parametrize(
    "name", ['a"; filename="evil.html', "a\r\nSet-Cookie: x=1", "a\\b;c,d", "\u202etxt.exe"]
)
def test_content_disposition_cannot_be_broken_out_of(name: str) -> None:
    header = content_disposition(name, inline=False)
    fallback = header.split('filename="', 1)[1].split('"', 1)[0]
    assert header == f"attachment; filename=\"{fallback}\"; filename*=UTF-8''" + quote(
        name, safe="!#$&+-.^_`|~"
    )
    assert not set(fallback) & set('"\\;\r\n') and fallback.isascii()
    assert header.count(";") == 2 and "\r" not in header and "\n" not in header


@pytest.mark.parametrize(
    ("content", "claimed"),
    [
        (b"<!DOCTYPE html><script>alert(1)</script>", "text/plain"),
        (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "image/png"),
        (b"harmless words", "text/html"),
    ],
)
async def test_markup_uploads_are_refused_and_leave_nothing(
    files_bastion: Bastion, content: bytes, claimed: str
) -> None:
    sink = MemorySink()
    files_bastion.services.events.add_sink(sink)
    owner = await files_bastion.signup("owner@example.com")
    status, body = await _upload(files_bastion, owner["token"], content, "page.html", claimed)
    assert (status, body["code"]) == (415, "file_type_not_allowed")
    assert list(files_bastion.settings.files.upload_dir.iterdir()) == []
    (event,) = sink.of_type("file.upload_refused")
    assert (event.outcome, event.details["reason"]) == ("denied", "file_type_not_allowed")


async def test_size_cap_holds_at_the_exact_limit(files_bastion: Bastion) -> None:
    owner = await files_bastion.signup("owner@example.com")
    limit = 1024 * 1024
    status, _ = await _upload(files_bastion, owner["token"], b"a" * limit)
    assert status == 200
    status, body = await _upload(files_bastion, owner["token"], b"a" * (limit + 1))
    assert (status, body["code"]) == (413, "file_too_large")
    # Far over: refused from the declared length by the body limit, before reading.
    status, body = await _upload(files_bastion, owner["token"], b"a" * (limit + 100_000))
    assert (status, body["code"]) == (413, "payload_too_large")
    assert len(list(files_bastion.settings.files.upload_dir.iterdir())) == 1


async def test_a_streamed_upload_without_length_is_capped_while_streaming(
    files_bastion: Bastion,
) -> None:
    owner = await files_bastion.signup("owner@example.com")
    boundary = "b0undary"

    async def body() -> object:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        for _ in range(40):  # 2.5 MiB in all, over the 1 MiB cap
            yield b"z" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    response = await files_bastion.client.post(
        "/api/v1/files/",
        content=body(),
        headers={
            **_auth(owner["token"]),
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )
    assert response.status_code == 413
    assert list(files_bastion.settings.files.upload_dir.iterdir()) == []


@pytest.mark.parametrize(
    "body",
    [
        b"not multipart at all",
        b'--b\r\nContent-Disposition: form-data; name="other"\r\n\r\nx\r\n--b--\r\n',
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nx\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="b"\r\n\r\ny\r\n--b--\r\n',
    ],
)
async def test_malformed_or_ambiguous_uploads_are_refused(
    files_bastion: Bastion, body: bytes
) -> None:
    owner = await files_bastion.signup("owner@example.com")
    response = await files_bastion.client.post(
        "/api/v1/files/",
        content=body,
        headers={**_auth(owner["token"]), "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert (response.status_code, response.json()["code"]) == (400, "invalid_upload")
    assert list(files_bastion.settings.files.upload_dir.iterdir()) == []


async def test_another_users_file_answers_404_on_every_route(files_bastion: Bastion) -> None:
    sink = MemorySink()
    files_bastion.services.events.add_sink(sink)
    admin = await files_bastion.signup("admin@example.com")
    owner = await files_bastion.signup("owner@example.com")
    other = await files_bastion.signup("other@example.com")
    _, stored = await _upload(files_bastion, owner["token"], b"private notes")
    path = f"/api/v1/files/{stored['id']}"
    missing = "/api/v1/files/00000000-0000-4000-8000-000000000000"
    # Administrators included: files are their owner's private data.
    for intruder in (other, admin):
        for method, url in (("GET", path), ("GET", f"{path}/content"), ("DELETE", path)):
            response = await files_bastion.client.request(
                method, url, headers=_auth(intruder["token"])
            )
            assert response.status_code == 404
            twin = await files_bastion.client.request(
                method, url.replace(path, missing), headers=_auth(intruder["token"])
            )
            assert response.json() == twin.json()  # no hint that the id exists
        listed = await files_bastion.client.get("/api/v1/files/", headers=_auth(intruder["token"]))
        assert listed.json() == []
    still_there = await files_bastion.client.get(f"{path}/content", headers=_auth(owner["token"]))
    assert still_there.content == b"private notes"
    assert len(sink.of_type("file.access_denied")) == 6


async def test_pending_and_anonymous_callers_cannot_use_files(
    start_bastion: StartBastion,
) -> None:
    bastion = await start_bastion()
    await bastion.signup("admin@example.com")
    pending = await bastion.signup("pending@example.com")
    bastion.client.cookies.clear()  # the token header alone says who calls
    for headers, status in ((_auth(pending["token"]), 403), ({}, 401)):
        assert (await bastion.client.get("/api/v1/files/", headers=headers)).status_code == status
        response = await bastion.client.post(
            "/api/v1/files/", files={"file": ("a.txt", b"x")}, headers=headers
        )
        assert response.status_code == status
    assert list(bastion.settings.files.upload_dir.iterdir()) == []


TRAVERSAL_IDS = [
    "..%2F..%2Fsentinel%2Fsecret.txt",
    "%2e%2e%2f%2e%2e%2fsentinel%2fsecret.txt",
    "%252e%252e%252f%252e%252e%252fsentinel%252fsecret.txt",
    "..%5C..%5Csentinel%5Csecret.txt",
    "%2Fetc%2Fpasswd",
    "neighbour.txt",
    "..%2Fneighbour.txt",
    "secret.txt%00",
    "00000000-0000-4000-8000-000000000000%00",
    "%2e",
    "%2e%2e",
]

TRAVERSAL_NAMES = [
    "../../sentinel/evil.txt",
    "..\\..\\sentinel\\evil.txt",
    "/tmp/evil.txt",
    "%2e%2e%2f%2e%2e%2fsentinel%2fevil.txt",
    "%252e%252e%252fevil.txt",
    "..",
    "evil\x00.txt",
    "../neighbour.txt",
]


async def test_path_traversal_touches_nothing_outside_the_upload_dir(
    files_bastion: Bastion, sentinel: Path, tmp_path: Path
) -> None:
    upload_dir = files_bastion.settings.files.upload_dir
    before = _snapshot(tmp_path, upload_dir)
    owner = await files_bastion.signup("owner@example.com")
    headers = _auth(owner["token"])
    for file_id in TRAVERSAL_IDS:
        for method, url in (
            ("GET", f"/api/v1/files/{file_id}"),
            ("GET", f"/api/v1/files/{file_id}/content"),
            ("DELETE", f"/api/v1/files/{file_id}"),
        ):
            response = await files_bastion.client.request(method, url, headers=headers)
            # A NUL is refused with the path (400 invalid_path), the rest are not found.
            expected = {400} if "%00" in file_id else {404, 405}
            assert response.status_code in expected, (method, url, response.status_code)
            assert MARKER not in response.content
    stored_ids = []
    for name in TRAVERSAL_NAMES:
        status, stored = await _upload(files_bastion, owner["token"], b"payload", name)
        assert status == 200
        assert "/" not in stored["filename"] and "\\" not in stored["filename"]
        assert "\x00" not in stored["filename"]
        stored_ids.append(stored["id"])
    # Every upload sits in UPLOAD_DIR under its server-generated name, nothing else does.
    assert sorted(p.name for p in upload_dir.iterdir()) == sorted(
        storage_name(file_id) for file_id in stored_ids
    )
    assert _snapshot(tmp_path, upload_dir) == before


async def test_a_symlink_planted_in_the_upload_dir_is_not_followed(
    files_bastion: Bastion, sentinel: Path, tmp_path: Path
) -> None:
    owner = await files_bastion.signup("owner@example.com")
    _, stored = await _upload(files_bastion, owner["token"], b"mine")
    planted = files_bastion.settings.files.upload_dir / storage_name(stored["id"])
    planted.unlink()
    planted.symlink_to(sentinel / "secret.txt")
    before = _snapshot(tmp_path, files_bastion.settings.files.upload_dir)
    url = f"/api/v1/files/{stored['id']}"
    download = await files_bastion.client.get(f"{url}/content", headers=_auth(owner["token"]))
    assert download.status_code == 404
    assert MARKER not in download.content
    deleted = await files_bastion.client.delete(url, headers=_auth(owner["token"]))
    assert deleted.status_code == 200
    assert not planted.is_symlink()
    assert (sentinel / "secret.txt").read_bytes() == MARKER
    assert _snapshot(tmp_path, files_bastion.settings.files.upload_dir) == before


async def test_a_client_hanging_up_mid_upload_leaves_no_partial_file(
    files_bastion: Bastion,
) -> None:
    owner = await files_bastion.signup("owner@example.com")
    app = create_app(files_bastion.settings, services=files_bastion.services)
    head = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\n'
        + b"x" * 300_000
    )
    messages = [
        {"type": "http.request", "body": head, "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/files/",
        "raw_path": b"/api/v1/files/",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {owner['token']}".encode()),
            (b"content-type", b"multipart/form-data; boundary=b"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 400
    assert b'"upload_interrupted"' in sent[1]["body"]
    assert os.listdir(files_bastion.settings.files.upload_dir) == []
    listed = await files_bastion.client.get("/api/v1/files/", headers=_auth(owner["token"]))
    assert listed.json() == []


async def test_deleting_an_account_deletes_its_files_from_disk(files_bastion: Bastion) -> None:
    admin = await files_bastion.signup("admin@example.com")
    user = await files_bastion.signup("user@example.com")
    _, kept = await _upload(files_bastion, admin["token"], b"the admin's")
    for content in (b"one", b"two"):
        assert (await _upload(files_bastion, user["token"], content))[0] == 200
    upload_dir = files_bastion.settings.files.upload_dir
    assert len(list(upload_dir.iterdir())) == 3
    response = await files_bastion.client.delete(
        f"/api/v1/users/{user['id']}", headers=_auth(admin["token"])
    )
    assert response.status_code == 200
    assert [p.name for p in upload_dir.iterdir()] == [storage_name(kept["id"])]


async def test_an_empty_file_is_refused_and_leaves_nothing(files_bastion: Bastion) -> None:
    owner = await files_bastion.signup("owner@example.com")
    status, body = await _upload(files_bastion, owner["token"], b"")
    assert (status, body["code"]) == (400, "empty_file")
    assert list(files_bastion.settings.files.upload_dir.iterdir()) == []
    assert await files_bastion.services.files.list(owner["id"]) == []


async def test_upload_metadata_is_kept_as_open_webui_meta_data(files_bastion: Bastion) -> None:
    owner = await files_bastion.signup("owner@example.com")
    response = await files_bastion.client.post(
        "/api/v1/files/",
        files={"file": ("notes.txt", b"hello", "text/plain")},
        data={"metadata": '{"collection": "docs", "page": 3}'},
        headers=_auth(owner["token"]),
    )
    assert response.status_code == 200, response.text
    assert response.json()["meta"]["data"] == {"collection": "docs", "page": 3}
    again = await files_bastion.client.get(
        f"/api/v1/files/{response.json()['id']}", headers=_auth(owner["token"])
    )
    assert again.json()["meta"]["data"] == {"collection": "docs", "page": 3}


@pytest.mark.parametrize(
    "metadata",
    ['{"open": ', "[1, 2]", '"text"', '{"a": "' + "x" * 9000 + '"}', '{"nul": "\\u0000"}'],
    ids=["invalid-json", "not-an-object", "a-string", "too-large", "control-character"],
)
async def test_invalid_upload_metadata_is_refused_and_leaves_nothing(
    files_bastion: Bastion, metadata: str
) -> None:
    owner = await files_bastion.signup("owner@example.com")
    response = await files_bastion.client.post(
        "/api/v1/files/",
        files={"file": ("notes.txt", b"hello", "text/plain")},
        data={"metadata": metadata},
        headers=_auth(owner["token"]),
    )
    assert (response.status_code, response.json()["code"]) == (400, "invalid_metadata")
    assert list(files_bastion.settings.files.upload_dir.iterdir()) == []
