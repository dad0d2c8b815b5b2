"""Security events forwarded to a webhook (a local test double of the SIEM)."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.support import PASSWORD, StartBastion


@pytest.fixture
def siem() -> Iterator[tuple[str, queue.Queue[dict[str, Any]]]]:
    received: queue.Queue[dict[str, Any]] = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.put(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


async def test_security_events_reach_the_webhook_redacted(
    start_bastion: StartBastion, siem: tuple[str, queue.Queue[dict[str, Any]]]
) -> None:
    url, received = siem
    bastion = await start_bastion({"AUDIT_WEBHOOK_URL": url, "AUDIT_LOG_LEVEL": "NONE"})
    user = await bastion.signup("a@example.com")
    await bastion.signin("a@example.com", "wrong password here")
    first, second = received.get(timeout=30), received.get(timeout=30)
    assert (first["type"], first["user_id"]) == ("auth.signup", user["id"])
    assert (second["type"], second["outcome"]) == ("auth.signin", "failure")
    assert second["time"].endswith("+00:00")
    assert PASSWORD not in json.dumps([first, second])


async def test_an_unreachable_webhook_does_not_touch_requests(start_bastion: StartBastion) -> None:
    bastion = await start_bastion({"AUDIT_WEBHOOK_URL": "http://127.0.0.1:9/hook"})
    await bastion.signup("a@example.com")
    assert (await bastion.signin("a@example.com")).status_code == 200
