"""Alert rules fire exactly at their thresholds, once per window and again in the next,
on an injected clock; lockouts and role changes alert every time; an admin's new address
alerts once."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bastion.audit.alerts import AlertRules, rules_from
from bastion.audit.events import MemorySink, SecurityEvent, SecurityEvents
from bastion.config.alerts import read_alerts
from bastion.config.reader import EnvReader
from bastion.ratelimit.storage import MemoryStorage
from tests.support import Clock, StartBastion

T0 = 1_700_000_000.0
ATTACKER = "203.0.113.5"


class Rig:
    """Security events with the alert rules as their last sink, as ``Services`` builds them."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.clock = Clock(T0)
        self.sink = MemorySink()
        self.events = SecurityEvents([self.sink], clock=self.clock)
        self.alerts = AlertRules(
            self.events, MemoryStorage(), rules_from(read_alerts(EnvReader(env or {})))
        )
        self.events.add_sink(self.alerts)

    async def record(self, type_: str, *, ip: str | None = ATTACKER, **fields: Any) -> None:
        scope = {"type": "http", "client": (ip, 40000), "headers": []} if ip else None
        self.events.record(type_, scope=scope, **fields)
        await self.alerts.settle()

    def fired(self, rule: str) -> list[SecurityEvent]:
        return self.sink.of_type(f"alert.{rule}")


def _failure(email: str) -> dict[str, Any]:
    return {"outcome": "failure", "email": email, "reason": "wrong_password"}


async def _count_alerts(rig: Rig, rule: str, type_: str, times: int, **fields: Any) -> list[int]:
    """The number of ``rule``'s alerts after each of ``times`` events, a second apart."""
    seen = []
    for _ in range(times):
        await rig.record(type_, **fields)
        rig.clock.advance(1)
        seen.append(len(rig.fired(rule)))
    return seen


async def test_sign_in_failures_for_one_account_alert_at_the_threshold_once_a_window() -> None:
    rig = Rig({"ALERT_SIGNIN_FAILURES_ACCOUNT": "3/15m", "ALERT_SIGNIN_FAILURES_IP": "100/15m"})
    failure = _failure("victim@example.com")
    assert await _count_alerts(rig, "signin_failures_account", "auth.signin", 3, **failure) == [
        0,
        0,
        1,
    ]
    # Further failures in the same window: no second alert.
    assert (
        await _count_alerts(rig, "signin_failures_account", "auth.signin", 20, **failure)
        == [1] * 20
    )
    (alert,) = rig.fired("signin_failures_account")
    assert alert.outcome == "info"
    assert alert.client_ip == ATTACKER
    assert alert.time == T0 + 2
    assert dict(alert.details) == {
        "rule": "signin_failures_account",
        "subject": "victim@example.com",
        "of": "auth.signin",
        "threshold": "3/900s",
    }
    # The next window counts from nothing and fires at the threshold again.
    rig.clock.now = T0 + 2 + 900
    assert await _count_alerts(rig, "signin_failures_account", "auth.signin", 3, **failure) == [
        1,
        1,
        2,
    ]
    # Another account has a count of its own.
    other = _failure("other@example.com")
    assert await _count_alerts(rig, "signin_failures_account", "auth.signin", 3, **other) == [
        2,
        2,
        3,
    ]


async def test_sign_in_failures_from_one_address_add_up_over_accounts() -> None:
    rig = Rig({"ALERT_SIGNIN_FAILURES_IP": "4/15m"})
    for i in range(3):
        await rig.record("auth.signin", **_failure(f"user{i}@example.com"))
    await rig.record("auth.signin", ip="198.51.100.7", **_failure("user9@example.com"))
    assert rig.fired("signin_failures_ip") == []
    await rig.record("auth.signin", **_failure("user3@example.com"))
    (alert,) = rig.fired("signin_failures_ip")
    assert alert.details["subject"] == ATTACKER
    # Successful sign-ins are not failures.
    rig.clock.advance(901)
    for _ in range(5):
        await rig.record("auth.signin", user_id="u1", role="user")
    assert len(rig.fired("signin_failures_ip")) == 1


@pytest.mark.parametrize(
    ("variable", "rule", "type_", "fields"),
    [
        ("ALERT_RATELIMIT_HITS", "ratelimit_hits", "ratelimit.hit", {"limit": "api_user"}),
        ("ALERT_API_KEY_DENIALS", "api_key_denials", "api_key.denied", {"reason": "bad_key"}),
        ("ALERT_CSP_REPORTS", "csp_reports", "csp.report", {"effectiveDirective": "script-src"}),
        (
            "ALERT_PERMISSION_DENIALS",
            "permission_denials",
            "permission.denied",
            {"user_id": "u1", "permission": "chat.share"},
        ),
    ],
)
async def test_a_burst_alerts_at_its_threshold_once_a_window_and_again_in_the_next(
    variable: str, rule: str, type_: str, fields: dict[str, Any]
) -> None:
    rig = Rig({variable: "5/5m"})
    seen = await _count_alerts(rig, rule, type_, 12, outcome="denied", **fields)
    assert seen == [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]
    (alert,) = rig.fired(rule)
    assert alert.time == T0 + 4 and alert.details["threshold"] == "5/300s"
    rig.clock.now = T0 + 4 + 300
    seen = await _count_alerts(rig, rule, type_, 6, outcome="denied", **fields)
    assert seen == [1, 1, 1, 1, 2, 2]


async def test_csp_reports_are_counted_over_every_address() -> None:
    rig = Rig({"ALERT_CSP_REPORTS": "3/5m"})
    for ip in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        await rig.record("csp.report", ip=ip, outcome="info", effectiveDirective="script-src")
    (alert,) = rig.fired("csp_reports")
    assert alert.details["subject"] == "*"


async def test_rate_limit_hits_are_counted_per_source() -> None:
    rig = Rig({"ALERT_RATELIMIT_HITS": "3/5m"})
    for ip in ("198.51.100.1", "198.51.100.2", "198.51.100.1", "198.51.100.2"):
        await rig.record("ratelimit.hit", ip=ip, outcome="denied", limit="signin")
    assert rig.fired("ratelimit_hits") == []
    await rig.record("ratelimit.hit", ip="198.51.100.2", outcome="denied", limit="signin")
    assert [alert.client_ip for alert in rig.fired("ratelimit_hits")] == ["198.51.100.2"]


async def test_every_lockout_role_change_group_change_and_redis_fallback_alerts() -> None:
    rig = Rig()
    for user in ("u1", "u2", "u1"):
        await rig.record("auth.lockout", outcome="denied", user_id=user, threshold=10)
    await rig.record("user.role_change", user_id="admin1", target_user_id="u3", new="admin")
    await rig.record("user.role_change", user_id="admin1", target_user_id="u3", new="user")
    await rig.record("group.updated", user_id="admin1", group="g1")
    await rig.record("group.members_changed", user_id="admin1", group="g1", added=["u4"])
    await rig.record("group.deleted", user_id="admin1", group="g2")
    await rig.record("group.created", user_id="admin1", group="g3")
    await rig.record("redis.fallback", ip=None, outcome="failure", reason="ConnectionError")
    assert [a.details["subject"] for a in rig.fired("lockout")] == ["u1", "u2", "u1"]
    assert [a.details["subject"] for a in rig.fired("role_change")] == ["u3", "u3"]
    assert [(a.details["of"], a.details["subject"]) for a in rig.fired("group_change")] == [
        ("group.updated", "g1"),
        ("group.members_changed", "g1"),
        ("group.deleted", "g2"),
    ]
    (fallback,) = rig.fired("redis_fallback")
    assert fallback.client_ip is None and fallback.details["of"] == "redis.fallback"
    # An alert names who acted and from where.
    assert rig.fired("role_change")[0].user_id == "admin1"


async def test_an_admin_sign_in_alerts_from_a_new_address_only() -> None:
    rig = Rig({"ALERT_ADMIN_ADDRESS_MEMORY": "30d"})

    async def sign_in(user: str, role: str, ip: str) -> int:
        await rig.record("auth.signin", ip=ip, user_id=user, role=role)
        rig.clock.advance(3600)
        return len(rig.fired("admin_new_address"))

    assert await sign_in("admin1", "admin", "198.51.100.1") == 1
    assert await sign_in("admin1", "admin", "198.51.100.1") == 1
    assert await sign_in("admin1", "admin", "198.51.100.2") == 2
    assert await sign_in("admin1", "admin", "198.51.100.1") == 2
    # Another admin's addresses are their own; users are not watched.
    assert await sign_in("admin2", "admin", "198.51.100.1") == 3
    assert await sign_in("u1", "user", "198.51.100.9") == 3
    # A failed sign-in from a new address is not an admin signing in.
    await rig.record("auth.signin", ip="198.51.100.3", user_id="admin1", **_failure("a@x.org"))
    assert len(rig.fired("admin_new_address")) == 3
    alerts = rig.fired("admin_new_address")
    assert [(a.user_id, a.client_ip) for a in alerts] == [
        ("admin1", "198.51.100.1"),
        ("admin1", "198.51.100.2"),
        ("admin2", "198.51.100.1"),
    ]
    assert alerts[0].details["subject"] == "admin1|198.51.100.1"
    # Remembered for ALERT_ADMIN_ADDRESS_MEMORY from when it was first seen.
    rig.clock.now = T0 + 30 * 86400
    assert await sign_in("admin1", "admin", "198.51.100.1") == 4


async def test_alerts_are_not_counted_by_the_rules() -> None:
    rig = Rig({"ALERT_RATELIMIT_HITS": "1/5m"})
    await rig.record("ratelimit.hit", outcome="denied", limit="signin")
    assert [event.type for event in rig.sink.events] == ["ratelimit.hit", "alert.ratelimit_hits"]


async def test_counted_events_past_the_queue_are_dropped_and_counted() -> None:
    rig = Rig({"ALERT_RATELIMIT_HITS": "2/5m"})
    rig.alerts.capacity = 3
    for i in range(5):  # no await: the evaluating task has not run yet
        rig.events.record("ratelimit.hit", outcome="denied", user_id=f"u{i}")
    await rig.alerts.settle()
    assert rig.alerts.dropped == 2
    assert rig.fired("ratelimit_hits") == []


def test_without_a_running_loop_only_rules_that_count_nothing_apply() -> None:
    rig = Rig({"ALERT_RATELIMIT_HITS": "1/5m"})
    rig.events.record("auth.lockout", outcome="denied", user_id="u1")
    rig.events.record("ratelimit.hit", outcome="denied", user_id="u1")
    assert [event.type for event in rig.sink.events] == [
        "auth.lockout",
        "alert.lockout",
        "ratelimit.hit",
    ]


async def test_alerts_of_a_running_instance_are_in_its_audit_log(
    start_bastion: StartBastion,
) -> None:
    clock = Clock(T0)
    bastion = await start_bastion(
        {"ALERT_SIGNIN_FAILURES_IP": "3/15m", "ALERT_SIGNIN_FAILURES_ACCOUNT": "3/15m"},
        clock=clock,
    )
    admin = await bastion.signup("admin@example.com")
    user = await bastion.signup("user@example.com")
    statuses = []
    for i in range(5):
        statuses.append((await bastion.signin(f"nobody{i}@example.com", "wrong")).status_code)
        clock.advance(1)
    assert statuses == [400] * 5
    changed = await bastion.client.post(
        "/api/v1/users/update/role",
        json={"id": user["id"], "role": "admin"},
        headers={"Authorization": f"Bearer {admin['token']}"},
    )
    assert changed.status_code == 200, changed.text
    await bastion.services.alerts.settle()
    assert bastion.services.audit.flush(30)
    lines = bastion.settings.audit.audit_logs_file_path.read_text().splitlines()
    alerts = [entry for entry in map(json.loads, lines) if entry["type"].startswith("alert.")]
    assert [(a["type"], a["details"]["subject"]) for a in alerts] == [
        ("alert.signin_failures_ip", "127.0.0.1"),
        ("alert.role_change", user["id"]),
    ]
    assert alerts[1]["user_id"] == admin["id"]
