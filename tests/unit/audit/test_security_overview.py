"""The security overview: refusals per time bucket and the top sources, from the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bastion.audit.overview import KINDS, buckets, compute
from bastion.checks import Target, run_checks
from tests.support import Bastion

NOW = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)


def _entry(type_: str, at: datetime, ip: str = "10.0.0.1", **fields: Any) -> dict[str, Any]:
    return {"type": type_, "time": at.isoformat(), "client_ip": ip, **fields}


def test_buckets_end_with_the_one_holding_now() -> None:
    start, length, count = buckets("24h", NOW)
    assert (start, length, count) == (datetime(2026, 3, 9, 13, tzinfo=UTC), timedelta(hours=1), 24)
    start, length, count = buckets("7d", NOW)
    assert (start, length, count) == (datetime(2026, 3, 4, tzinfo=UTC), timedelta(days=1), 7)


def test_refusals_are_counted_per_kind_and_hour() -> None:
    hour_ago = NOW - timedelta(hours=1)
    log = [
        _entry("auth.signin", NOW, outcome="failure"),
        _entry("auth.signin", NOW, outcome="failure"),
        _entry("auth.signin", hour_ago, outcome="failure"),
        _entry("auth.signin", NOW, outcome="success"),  # not a refusal
        _entry("auth.signin", NOW, outcome="denied"),  # a disabled account: not counted
        _entry("auth.lockout", NOW, outcome="denied"),
        _entry("ratelimit.hit", hour_ago, outcome="denied"),
        _entry("api_key.denied", NOW, outcome="denied"),
        _entry("csp.report", NOW, outcome="info"),
        _entry("user.deleted", NOW),  # not a refusal
        _entry("auth.signin", NOW - timedelta(days=2), outcome="failure"),  # out of range
        _entry("auth.signin", NOW + timedelta(hours=1), outcome="failure"),  # after now's bucket
    ]
    found = compute("24h", NOW, log)
    assert found.series["signin_failures"][-2:] == (1, 2)
    assert found.series["ratelimit_hits"][-2:] == (1, 0)
    assert found.totals == {
        "signin_failures": 3,
        "lockouts": 1,
        "ratelimit_hits": 1,
        "api_key_denials": 1,
        "csp_reports": 1,
    }
    assert all(len(found.series[kind]) == 24 for kind in KINDS)
    assert found.top_sources == (("10.0.0.1", 7),)


def test_coalesced_refusals_count_with_their_count() -> None:
    log = [
        _entry("ratelimit.hit", NOW, outcome="denied"),
        _entry("audit.coalesced", NOW, details={"of": "ratelimit.hit", "count": 41}),
        _entry("audit.coalesced", NOW, details={"of": "http.request", "count": 9}),
        _entry("audit.coalesced", NOW, details={"of": "csp.report", "count": "many"}),
    ]
    found = compute("7d", NOW, log)
    assert found.series["ratelimit_hits"] == (0, 0, 0, 0, 0, 0, 42)
    assert found.totals["csp_reports"] == 0


def test_top_sources_are_ordered_by_count_then_address() -> None:
    log = [_entry("api_key.denied", NOW, ip=f"10.0.0.{n % 13}") for n in range(60)]
    log.append(_entry("api_key.denied", NOW, ip=None))
    found = compute("24h", NOW, log)
    assert len(found.top_sources) == 10
    # 10.0.0.0 to .7 were seen five times, .8 to .12 four times; ties go by address.
    assert found.top_sources == (
        *((f"10.0.0.{n}", 5) for n in range(8)),
        ("10.0.0.10", 4),
        ("10.0.0.11", 4),
    )


def test_an_unreadable_time_is_skipped() -> None:
    log = [{"type": "auth.lockout", "time": "yesterday"}, {"type": "auth.lockout"}]
    assert compute("24h", NOW, log).totals["lockouts"] == 0


async def test_overview_route_counts_the_failures_just_caused(bastion: Bastion) -> None:
    admin = await bastion.signup("admin@example.com")
    await bastion.signup("user@example.com")
    for _ in range(3):
        assert (await bastion.signin("user@example.com", "wrong password here")).status_code == 400
    assert bastion.services.audit.flush(30)
    headers = {"Authorization": f"Bearer {admin['token']}"}
    response = await bastion.client.get("/api/v1/security/overview", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["range"] == "24h" and body["bucket_seconds"] == 3600
    assert len(body["buckets"]) == 24
    assert body["series"]["signin_failures"][-1] == 3
    assert body["totals"]["signin_failures"] == 3
    assert body["top_sources"] == [{"client_ip": "127.0.0.1", "count": 3}]
    assert body["warnings"] == list(bastion.settings.warnings)
    # The test instance runs without Redis and without a WEBUI_URL: the production checks
    # say so, as `bastion check --deploy` would.
    checks = [check["id"] for check in body["checks"]]
    assert "bastion.W061" in checks and "bastion.W011" in checks
    expected = run_checks(Target(bastion.settings, accounts_exist=True), deploy=True)
    assert body["checks"] == [message.as_dict() for message in expected]
    week = await bastion.client.get(
        "/api/v1/security/overview", params={"range": "7d"}, headers=headers
    )
    assert week.json()["series"]["signin_failures"][-1] == 3


async def test_overview_is_for_admins_and_known_ranges(bastion: Bastion) -> None:
    admin = await bastion.signup("admin@example.com")
    user = await bastion.signup("user@example.com")
    refused = await bastion.client.get(
        "/api/v1/security/overview", headers={"Authorization": f"Bearer {user['token']}"}
    )
    assert refused.status_code == 403
    bad = await bastion.client.get(
        "/api/v1/security/overview",
        params={"range": "1y"},
        headers={"Authorization": f"Bearer {admin['token']}"},
    )
    assert bad.status_code == 422
    assert "detail" in bad.json()
