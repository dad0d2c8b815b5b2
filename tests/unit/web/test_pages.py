"""The UI's pages and static files over HTTP: caching, redirects, versioned URLs."""

from __future__ import annotations

import gzip
import re

from bastion.web.assets import StaticAssets
from tests.support import Bastion


def _asset_urls(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html)


async def test_sign_in_page_links_versioned_assets_and_is_not_stored(bastion: Bastion) -> None:
    page = await bastion.client.get("/auth")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    version = bastion.app.state.pages.assets.version
    assert _asset_urls(page.text) == [
        f"/static/{version}/css/app.css",
        f"/static/{version}/js/auth.js",
    ]
    # The first visitor is told they create the administrator.
    assert "the first one becomes the administrator" in page.text


async def test_static_files_are_cached_for_a_year_and_gzipped(bastion: Bastion) -> None:
    url = bastion.app.state.pages.assets.url("js/api.js")
    plain = await bastion.client.get(url, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert plain.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "content-encoding" not in plain.headers
    raw = await bastion.client.get(url, headers={"Accept-Encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip"
    assert raw.headers["vary"] == "accept-encoding"
    assert int(raw.headers["content-length"]) < len(plain.content)
    assert raw.content == plain.content  # httpx decoded it: the same bytes
    assert gzip.decompress(gzip.compress(plain.content)) == plain.content


async def test_other_versions_and_unknown_names_are_not_found(bastion: Bastion) -> None:
    assets: StaticAssets = bastion.app.state.pages.assets
    for path in (
        "/static/0000000000000000/js/api.js",
        f"/static/{assets.version}/js/missing.js",
        f"/static/{assets.version}/../templating.py",
        f"/static/{assets.version}/%2e%2e/templating.py",
        "/static/js/api.js",
    ):
        answer = await bastion.client.get(path)
        assert answer.status_code == 404, path
        assert answer.json()["code"] == "not_found"
        assert answer.headers["cache-control"] == "no-store"


async def test_the_version_changes_with_any_file(tmp_path) -> None:
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "a.js").write_text("export const a = 1;\n")
    before = StaticAssets(tmp_path).version
    (tmp_path / "js" / "a.js").write_text("export const a = 2;\n")
    assert StaticAssets(tmp_path).version != before


async def test_private_pages_send_a_visitor_without_session_to_sign_in(bastion: Bastion) -> None:
    for path, location in (
        ("/", "/auth"),
        ("/c/abc", "/auth?next=/c/abc"),
        ("/s/xyz", "/auth?next=/s/xyz"),
        ("/shared/abc", "/auth?next=/shared/abc"),
        ("/pending", "/auth?next=/pending"),
    ):
        answer = await bastion.client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == location
        assert answer.headers["cache-control"] == "no-store"
    bastion.client.cookies.set("token", "not-a-token")
    answer = await bastion.client.get("/", follow_redirects=False)
    assert answer.headers["location"] == "/auth"


async def test_pending_account_sees_only_the_waiting_page(bastion: Bastion) -> None:
    await bastion.signup("admin@example.com", name="Admin")
    bastion.client.cookies.clear()
    await bastion.signup("later@example.com", name="<b>Later</b>")
    answer = await bastion.client.get("/", follow_redirects=False)
    assert answer.headers["location"] == "/pending"
    page = await bastion.client.get("/pending")
    assert page.status_code == 200
    assert "Waiting for approval" in page.text
    # Names are untrusted: escaped by the template.
    assert "&lt;b&gt;Later&lt;/b&gt;" in page.text and "<b>Later</b>" not in page.text


async def test_signed_in_user_gets_the_chat_page(bastion: Bastion) -> None:
    await bastion.signup("admin@example.com", name="Admin")
    page = await bastion.client.get("/c/some-chat")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert 'data-chat-id="some-chat"' in page.text
    assert (await bastion.client.get("/pending", follow_redirects=False)).headers["location"] == "/"
