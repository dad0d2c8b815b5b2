"""A file attached on the chat page is stored, listed with the chat and downloadable."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import BrowserContext, expect

from tests.e2e.harness import Account, Served


def test_an_attached_file_is_listed_after_reload_and_downloads_as_uploaded(
    api: httpx.Client,
    served: Served,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
    tmp_path: Path,
) -> None:
    user = make_user("Fay Files")
    body = "Line one\nLine two, ünïcode\n".encode()
    page = new_context(account=user).new_page()
    page.goto("/")
    page.get_by_label("Attach", exact=True).set_input_files(
        {"name": "Notes, May (2).txt", "mimeType": "text/plain", "buffer": body}
    )
    attached = page.get_by_role("list", name="Attached files").get_by_role("link")
    expect(attached).to_have_text(["Notes, May (2).txt"])
    # Attaching saved a new chat that names the file.
    page.wait_for_url(re.compile(r"/c/[^/]+$"))
    chat_id = page.url.rsplit("/", 1)[1]
    (file_id,) = [row[0] for row in served.query("SELECT id FROM files WHERE user_id = ?", user.id)]
    chat = api.get(f"/api/v1/chats/{chat_id}", headers=user.auth).json()
    assert chat["chat"]["files"] == [{"id": file_id, "name": "Notes, May (2).txt", "type": "file"}]

    page.reload()
    expect(attached).to_have_text(["Notes, May (2).txt"])
    with page.expect_download() as downloading:
        attached.first.click()
    download = downloading.value
    assert download.suggested_filename == "Notes, May (2).txt"
    saved = tmp_path / "download"
    download.save_as(saved)
    assert saved.read_bytes() == body
