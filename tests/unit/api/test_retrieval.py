"""``POST /api/v1/retrieval/process/web``: readable text, never an internal address."""

from __future__ import annotations

import asyncio

import pytest

from bastion.audit.events import MemorySink
from tests.support import Bastion, StartBastion
from tests.web_servers import (
    Certificates,
    SeenRequest,
    ServerFactory,
    WebServer,
    page,
    redirect_to,
)

LOCAL = {"ENABLE_LOCAL_WEB_FETCH": "true"}
URL = "/api/v1/retrieval/process/web"
PAGE = b"""<!doctype html><html><head><title>The  Title</title>
<style>body { color: red }</style><script>var secret = 1;</script></head>
<body><h1>Heading</h1><p>First&nbsp;paragraph &amp; more.</p>
<noscript>enable js</noscript><div>Second<br>line</div></body></html>"""


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def _user(bastion: Bastion) -> dict[str, str]:
    admin = await bastion.signup("admin@example.com")
    return {"Authorization": f"Bearer {admin['token']}"}


async def test_a_page_is_fetched_as_text(
    start_bastion: StartBastion, web_server: ServerFactory
) -> None:
    server = await web_server(page(PAGE, "text/html; charset=utf-8"))
    bastion = await start_bastion(LOCAL)
    response = await bastion.client.post(
        URL, json={"url": f"{server.origin}/article"}, headers=await _user(bastion)
    )
    assert response.status_code == 200
    assert response.json() == {
        "status": True,
        "url": f"{server.origin}/article",
        "title": "The Title",
        "content": "Heading\n\nFirst\xa0paragraph & more.\n\nSecond\nline",
        "truncated": False,
    }


async def test_internal_addresses_are_refused_by_default_and_never_reached(
    start_bastion: StartBastion, canary: WebServer
) -> None:
    bastion = await start_bastion()
    sink = MemorySink()
    bastion.services.events.add_sink(sink)
    headers = await _user(bastion)
    port = canary.port
    for url in (
        f"http://127.0.0.1:{port}/",
        f"http://127.1:{port}/",
        f"http://2130706433:{port}/",
        f"http://0x7f000001:{port}/",
        f"http://0177.0.0.1:{port}/",
        f"http://localhost:{port}/",
        f"http://[::1]:{port}/",
        f"http://[::ffff:127.0.0.1]:{port}/",
        f"http://[64:ff9b::7f00:1]:{port}/",
        f"http://user:pw@127.0.0.1:{port}/",
        f"http://example.com\\@127.0.0.1:{port}/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "file:///etc/passwd",
    ):
        response = await bastion.client.post(URL, json={"url": url}, headers=headers)
        assert (response.status_code, response.json()["code"]) == (400, "url_not_allowed"), url
    assert canary.connections == 0
    events = sink.of_type("web_fetch.refused")
    assert len(events) == 14
    assert {(e.outcome, e.details["reason"]) for e in events} == {("denied", "url_not_allowed")}
    assert "pw" not in str([e.details for e in events])


async def test_metadata_stays_refused_when_local_fetch_is_enabled(
    start_bastion: StartBastion,
) -> None:
    bastion = await start_bastion(LOCAL)
    headers = await _user(bastion)
    for url in ("http://169.254.169.254/latest/meta-data/", "http://100.100.100.200/"):
        response = await bastion.client.post(URL, json={"url": url}, headers=headers)
        assert (response.status_code, response.json()["code"]) == (400, "url_not_allowed")


async def test_filter_list_applies_to_every_redirect_hop(
    start_bastion: StartBastion, web_server: ServerFactory, canary: WebServer
) -> None:
    redirector = await web_server(redirect_to(f"http://localhost:{canary.port}/"))
    bastion = await start_bastion({**LOCAL, "WEB_FETCH_FILTER_LIST": "!localhost"})
    headers = await _user(bastion)
    response = await bastion.client.post(URL, json={"url": redirector.origin}, headers=headers)
    assert (response.status_code, response.json()["code"]) == (400, "url_not_allowed")
    direct = await bastion.client.post(
        URL, json={"url": f"http://localhost:{canary.port}/"}, headers=headers
    )
    assert direct.status_code == 400
    assert len(redirector.requests) == 1
    assert canary.connections == 0


async def test_an_address_in_the_filter_list_is_refused_in_every_spelling_and_hop(
    start_bastion: StartBastion, web_server: ServerFactory
) -> None:
    connections: list[int] = []

    async def count(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        writer.close()

    # Listening on 127.0.0.2, the address: anything reaching it is a failure.
    blocked = await asyncio.start_server(count, "127.0.0.2", 0)
    port = blocked.sockets[0].getsockname()[1]
    redirector = await web_server(redirect_to(f"http://127.0.0.2:{port}/page"))
    bastion = await start_bastion({**LOCAL, "WEB_FETCH_FILTER_LIST": "!127.0.0.2/32"})
    headers = await _user(bastion)
    try:
        for url in (
            f"http://127.0.0.2:{port}/page",
            f"http://2130706434:{port}/page",
            f"http://[::ffff:127.0.0.2]:{port}/page",
            redirector.origin,  # allowed itself (127.0.0.1); its redirect is not
        ):
            response = await bastion.client.post(URL, json={"url": url}, headers=headers)
            assert response.status_code == 400, url
            assert response.json() == {
                "detail": "This address may not be fetched.",
                "code": "url_not_allowed",
            }
        assert len(redirector.requests) == 1
        assert connections == []
    finally:
        blocked.close()
        await blocked.wait_closed()


async def test_an_allowed_address_range_admits_only_its_addresses(
    start_bastion: StartBastion, web_server: ServerFactory, canary: WebServer
) -> None:
    server = await web_server(page(b"<p>inside</p>", "text/html"))
    bastion = await start_bastion({**LOCAL, "WEB_FETCH_FILTER_LIST": "127.0.0.1/32"})
    headers = await _user(bastion)
    inside = await bastion.client.post(URL, json={"url": f"{server.origin}/"}, headers=headers)
    assert (inside.status_code, inside.json()["content"]) == (200, "inside")
    outside = await bastion.client.post(
        URL, json={"url": f"http://[::1]:{canary.port}/"}, headers=headers
    )
    assert (outside.status_code, outside.json()["code"]) == (400, "url_not_allowed")
    assert canary.connections == 0


async def test_allow_only_filter_list_refuses_other_domains(start_bastion: StartBastion) -> None:
    bastion = await start_bastion({"WEB_FETCH_FILTER_LIST": "docs.example.com"})
    response = await bastion.client.post(
        URL, json={"url": "https://example.org/"}, headers=await _user(bastion)
    )
    assert (response.status_code, response.json()["code"]) == (400, "url_not_allowed")


async def test_upstream_timeout_is_504_and_garbage_is_502(
    start_bastion: StartBastion, web_server: ServerFactory
) -> None:
    async def hang(_: SeenRequest, writer: asyncio.StreamWriter) -> None:
        await asyncio.Event().wait()

    async def garbage(_: SeenRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(b"\x00\x01 not http\r\n\r\n")
        await writer.drain()
        writer.close()

    slow = await web_server(hang)
    broken = await web_server(garbage)
    failing = await web_server(page(b"gone", status=500))
    binary = await web_server(page(b"%PDF-1.7", "application/pdf"))
    bastion = await start_bastion({**LOCAL, "OUTBOUND_READ_TIMEOUT": "200ms"})
    headers = await _user(bastion)
    expected = {
        slow.origin: (504, "upstream_timeout"),
        broken.origin: (502, "bad_upstream"),
        failing.origin: (502, "bad_upstream"),
        binary.origin: (502, "unsupported_content_type"),
    }
    for url, (status, code) in expected.items():
        response = await bastion.client.post(URL, json={"url": url}, headers=headers)
        assert (response.status_code, response.json()["code"]) == (status, code)
        assert "Traceback" not in response.text


async def test_oversized_page_is_refused(
    start_bastion: StartBastion, web_server: ServerFactory
) -> None:
    server = await web_server(page(b"x" * 5000))
    bastion = await start_bastion({**LOCAL, "OUTBOUND_MAX_RESPONSE_SIZE": "1KB"})
    response = await bastion.client.post(
        URL, json={"url": server.origin}, headers=await _user(bastion)
    )
    assert (response.status_code, response.json()["code"]) == (502, "upstream_response_too_large")


@pytest.mark.parametrize(("verify", "status"), [("true", 502), ("false", 200)])
async def test_tls_verification_follows_the_setting(
    start_bastion: StartBastion,
    web_server: ServerFactory,
    certificates: Certificates,
    verify: str,
    status: int,
) -> None:
    server = await web_server(page(b"over tls"), tls=certificates.server_context())
    bastion = await start_bastion({**LOCAL, "ENABLE_WEB_LOADER_SSL_VERIFICATION": verify})
    response = await bastion.client.post(
        URL, json={"url": server.origin}, headers=await _user(bastion)
    )
    assert response.status_code == status


async def test_fetches_are_rate_limited_per_user(
    start_bastion: StartBastion, web_server: ServerFactory
) -> None:
    server = await web_server(page(b"ok"))
    clock = Clock()
    bastion = await start_bastion({**LOCAL, "WEB_FETCH_RATE_LIMIT": "2/1m"}, clock=clock)
    first = await _user(bastion)
    second = await bastion.signup("second@example.com")
    await bastion.client.post(
        "/api/v1/users/update/role", json={"id": second["id"], "role": "user"}, headers=first
    )
    second_headers = {
        "Authorization": f"Bearer {(await bastion.signin('second@example.com')).json()['token']}"
    }
    body = {"url": server.origin}
    assert [
        (await bastion.client.post(URL, json=body, headers=first)).status_code for _ in range(3)
    ] == [200, 200, 429]
    limited = await bastion.client.post(URL, json=body, headers=first)
    assert (limited.json()["code"], limited.headers["retry-after"]) == ("rate_limited", "60")
    assert (await bastion.client.post(URL, json=body, headers=second_headers)).status_code == 200
    clock.now += 60
    assert (await bastion.client.post(URL, json=body, headers=first)).status_code == 200
    assert len(server.requests) == 4


async def test_pending_users_cannot_fetch(start_bastion: StartBastion) -> None:
    bastion = await start_bastion(LOCAL)
    await bastion.signup("admin@example.com")
    pending = await bastion.signup("pending@example.com")
    response = await bastion.client.post(
        URL,
        json={"url": "http://127.0.0.1:9/"},
        headers={"Authorization": f"Bearer {pending['token']}"},
    )
    assert response.status_code == 403
