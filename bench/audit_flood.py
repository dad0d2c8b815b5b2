"""What a flood of refused requests costs the audit log, coalesced and not.

A million refused requests (rate-limit hits answered 429, bogus ``Bearer sk-…`` keys
answered 401, CSP reports over the limit) from 50 addresses over an hour are fed to the
audit writer as the middleware and the security events feed it: each request is one
event plus one request entry. The same stream goes once through the shipped writer and
once through a writer that folds nothing (the baseline, as before coalescing); the bytes
each writes are counted. Then a smaller run over HTTP (in process, through the whole
app): 3,000 CSP reports from one address, with and without folding.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bastion.app import create_app, prepare
from bastion.audit.coalesce import Coalescer
from bastion.audit.logfile import LogFile
from bastion.audit.writer import AuditWriter
from bastion.config import load_settings
from bastion.services import Services

REQUESTS = 1_000_000
ADDRESSES = 50
SPAN = 3600.0  # seconds of simulated time the million requests arrive in
HTTP_REQUESTS = 3_000
T0 = 1_700_000_000.0

_KINDS = (
    ("ratelimit.hit", {"limit": "signin_ip", "rate": "60/15m", "retry_after": "600"}, 429),
    ("api_key.denied", {"reason": "invalid_api_key"}, 401),
    ("ratelimit.hit", {"limit": "csp_report", "rate": "30/1m", "retry_after": "40"}, 429),
)
_PATHS = ("/api/v1/auths/signin", "/api/chat/completions", "/api/v1/security/csp-report")


class _Counting(LogFile):
    """The log file, counting the bytes it appends."""

    written = 0

    def append(self, entries: list[dict[str, Any]]) -> list[bytes]:
        lines = super().append(entries)
        self.written += sum(map(len, lines))
        return lines


class _Nothing(Coalescer):
    """The baseline: every record written in full."""

    def offer(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        return [record]


def _feed(root: Path, coalescer: Coalescer) -> tuple[int, float]:
    log_file = _Counting(root / "audit.log", rotation_size=10 << 20, retention=10)
    writer = AuditWriter(log_file, coalescer=coalescer, capacity=50_000, batch_size=2048)
    started = time.perf_counter()
    for n in range(REQUESTS):
        now = T0 + n * SPAN / REQUESTS
        ip = f"203.0.113.{n % ADDRESSES}"
        kind, details, status = _KINDS[n % len(_KINDS)]
        agent = "python-httpx/0.27"
        writer.submit(
            {
                "time": now,
                "type": kind,
                "outcome": "denied",
                "user_id": None,
                "role": None,
                "api_key_id": None,
                "client_ip": ip,
                "user_agent": agent,
                "details": dict(details),
            },
            security=True,
        )
        writer.submit(
            {
                "time": now,
                "type": "http.request",
                "user_id": None,
                "role": None,
                "api_key_id": None,
                "method": "POST",
                "path": _PATHS[n % len(_PATHS)],
                "status": status,
                "duration_ms": 0.412,
                "client_ip": ip,
                "user_agent": agent,
            }
        )
        if n % 10_000 == 9_999:
            writer.flush(600)  # the queue stays short: the stream is not what is measured
    writer.close(600)
    return log_file.written, time.perf_counter() - started


async def _http(root: Path, fold: bool) -> None:
    settings = load_settings({"DATA_DIR": str(root), "CSP_REPORT_RATE_LIMIT": "30/1m"})
    services = Services.build(settings)
    if not fold:
        services.audit.coalescer = _Nothing()
    await prepare(services)
    app = create_app(settings, services=services)
    report = json.dumps(
        {"csp-report": {"violated-directive": "script-src-elem", "blocked-uri": "é" * 600}}
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for _ in range(HTTP_REQUESTS):
            await client.post(
                "/api/v1/security/csp-report",
                content=report,
                headers={"Content-Type": "application/csp-report"},
            )
    await services.close()


def _log_bytes(root: Path) -> int:
    return sum(path.stat().st_size for path in root.glob("audit.log*") if path.is_file())


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bastion-bench-") as tmp:
        root = Path(tmp)
        (root / "coalesced").mkdir()
        (root / "baseline").mkdir()
        folded, folded_s = _feed(root / "coalesced", Coalescer())
        full, full_s = _feed(root / "baseline", _Nothing())
        asyncio.run(_http(root / "http-coalesced", True))
        asyncio.run(_http(root / "http-baseline", False))
        http_folded = _log_bytes(root / "http-coalesced")
        http_full = _log_bytes(root / "http-baseline")
    print(
        f"{REQUESTS:,} refused requests from {ADDRESSES} addresses over {SPAN / 3600:.0f} h:\n"
        f"  coalesced: {folded:,} bytes ({folded_s:.1f} s)\n"
        f"  baseline:  {full:,} bytes ({full_s:.1f} s)\n"
        f"  ratio:     1 : {full / folded:,.0f}\n"
        f"{HTTP_REQUESTS:,} CSP reports over HTTP from one address:\n"
        f"  coalesced: {http_folded:,} bytes, baseline: {http_full:,} bytes, "
        f"ratio 1 : {http_full / http_folded:,.1f}"
    )
    return {
        "coalesced_bytes": float(folded),
        "baseline_bytes": float(full),
        "ratio": full / folded,
        "http_coalesced_bytes": float(http_folded),
        "http_baseline_bytes": float(http_full),
        "http_ratio": http_full / http_folded,
    }
