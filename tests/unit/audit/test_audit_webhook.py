"""Security events forwarded to a webhook (a local test double of the SIEM)."""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bastion.audit.events import SecurityEvent
from bastion.audit.webhook import WebhookSink
from tests.support import PASSWORD, StartBastion


@dataclass
class Siem:
    url: str
    received: queue.Queue[dict[str, Any]]
    paths: list[str]
    statuses: list[int]  # the next answers, in order; 204 once it is empty


@pytest.fixture
def siem() -> Iterator[Siem]:
    """A local SIEM that keeps each event posted and answers with the scripted status."""
    received: queue.Queue[dict[str, Any]] = queue.Queue()
    paths: list[str] = []
    statuses: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.put(json.loads(self.rfile.read(length)))
            paths.append(self.path)
            self.send_response(statuses.pop(0) if statuses else 204)
            self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Siem(f"http://127.0.0.1:{server.server_address[1]}/hook", received, paths, statuses)
    server.shutdown()
    server.server_close()


async def test_security_events_reach_the_webhook_redacted(
    start_bastion: StartBastion, siem: Siem
) -> None:
    url, received = siem.url, siem.received
    bastion = await start_bastion({"AUDIT_WEBHOOK_URL": url, "AUDIT_LOG_LEVEL": "NONE"})
    user = await bastion.signup("a@example.com")
    await bastion.signin("a@example.com", "wrong password here")
    first, session, second = (received.get(timeout=30) for _ in range(3))
    assert (first["type"], first["user_id"]) == ("auth.signup", user["id"])
    assert (session["type"], session["user_id"]) == ("session.created", user["id"])
    assert (second["type"], second["outcome"]) == ("auth.signin", "failure")
    assert second["time"].endswith("+00:00")
    assert PASSWORD not in json.dumps([first, session, second])


async def test_an_unreachable_webhook_does_not_touch_requests(start_bastion: StartBastion) -> None:
    bastion = await start_bastion({"AUDIT_WEBHOOK_URL": "http://127.0.0.1:9/hook"})
    await bastion.signup("a@example.com")
    assert (await bastion.signin("a@example.com")).status_code == 200


def _forward(url: str, count: int) -> None:
    sink = WebhookSink(url)
    for number in range(count):
        sink.emit(SecurityEvent(type=f"test.{number}", outcome="info", time=0.0))
    sink.close(timeout=30)


def test_a_refusing_webhook_is_logged_once_per_outage(
    siem: Siem, caplog: pytest.LogCaptureFixture
) -> None:
    siem.statuses += [500, 500, 204, 503]
    caplog.set_level(logging.ERROR, logger="bastion.audit")
    _forward(siem.url, 4)
    assert siem.paths == ["/hook"] * 4
    assert [record.getMessage() for record in caplog.records] == [
        "cannot forward security events to the webhook: the webhook answered with status 500",
        "cannot forward security events to the webhook: the webhook answered with status 503",
    ]


def test_the_webhook_is_not_followed_through_a_redirect(
    siem: Siem, caplog: pytest.LogCaptureFixture
) -> None:
    siem.statuses += [307]
    caplog.set_level(logging.ERROR, logger="bastion.audit")
    _forward(siem.url, 1)
    assert siem.paths == ["/hook"]
    assert [record.getMessage() for record in caplog.records] == [
        "cannot forward security events to the webhook: the webhook answered with status 307"
    ]
