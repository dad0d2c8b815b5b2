"""Alert rules: patterns in the security events worth a person's attention now.

A rule names the events it watches and the subject it counts them under (an account, an
address). Three kinds:

- each matching event is an alert (a lockout, a role change): such events are rare and
  each one matters;
- a count over a window (``N/period``): the alert fires on the event that brings the
  count to ``N``, then not again for ``period``, however many more come (a flood costs
  one alert a window); the next window counts from nothing and fires at ``N`` again;
- a subject seen for the first time in ``remember`` seconds (an admin's sign-in address).

Counts and seen subjects live in a rate-limit storage (the sliding-window log of
``ratelimit``, not a second implementation): on Redis when there is one, so every
instance counts into the same window and one alert fires for all of them; in this
process without Redis, and while Redis is away (``FailoverStorage``: per process until it
is back, never an error). Each alert is itself a security event, ``alert.<rule>``, so it
reaches every sink: the audit log, the webhook, syslog.

``emit`` never waits and never raises: counted events are queued (bounded; past that
they are dropped and counted in ``dropped``) and one task evaluates them. A subject whose
alert fired in this window is remembered here, so a flood after the alert costs neither
a queue slot nor a Redis call.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bastion.audit.events import SecurityEvent, SecurityEvents
from bastion.config.alerts import AlertSettings
from bastion.config.reader import RateLimit
from bastion.ratelimit.storage import Storage, Window

log = logging.getLogger("bastion.audit")

Subject = Callable[[SecurityEvent], str | None]

MAX_SUBJECT = 256  # subjects are attacker-chosen text (an e-mail): the key stays bounded
BATCH = 64  # evaluated together: their Redis calls share the pipelined connection


@dataclass(frozen=True, slots=True)
class Rule:
    name: str  # the alert is the security event ``alert.<name>``
    types: frozenset[str]
    subject: Subject  # what is counted; None: the event is not this rule's
    threshold: RateLimit | None = None  # None (and no ``remember``): every event alerts
    remember: float | None = None  # seconds a seen subject is remembered

    @property
    def counted(self) -> bool:
        return self.threshold is not None or self.remember is not None


def _failed_signin(subject: Subject) -> Subject:
    return lambda event: subject(event) if event.outcome == "failure" else None


def _email(event: SecurityEvent) -> str | None:
    email = event.details.get("email")
    return str(email) if email else event.user_id


def _address(event: SecurityEvent) -> str | None:
    return event.client_ip


def _source(event: SecurityEvent) -> str | None:
    return event.client_ip or event.user_id


def _user(event: SecurityEvent) -> str | None:
    return event.user_id or event.client_ip


def _admin_address(event: SecurityEvent) -> str | None:
    if event.outcome != "success" or event.role != "admin" or not event.client_ip:
        return None
    return f"{event.user_id}|{event.client_ip}"


def _target(name: str) -> Subject:
    return lambda event: str(event.details.get(name) or event.user_id or "-")


def _everything(_: SecurityEvent) -> str:
    return "*"


def rules_from(settings: AlertSettings) -> tuple[Rule, ...]:
    """Bastion's rules, with the thresholds of ``ALERT_*``."""
    return (
        Rule(
            "signin_failures_account",
            frozenset({"auth.signin"}),
            _failed_signin(_email),
            settings.alert_signin_failures_account,
        ),
        Rule(
            "signin_failures_ip",
            frozenset({"auth.signin"}),
            _failed_signin(_address),
            settings.alert_signin_failures_ip,
        ),
        Rule(
            "ratelimit_hits", frozenset({"ratelimit.hit"}), _source, settings.alert_ratelimit_hits
        ),
        Rule(
            "api_key_denials",
            frozenset({"api_key.denied"}),
            _source,
            settings.alert_api_key_denials,
        ),
        # Every browser reports, without credentials: a burst is counted over all sources
        # (one deploy that breaks the policy for everyone, or an injection tried on many).
        Rule("csp_reports", frozenset({"csp.report"}), _everything, settings.alert_csp_reports),
        Rule(
            "permission_denials",
            frozenset({"permission.denied"}),
            _user,
            settings.alert_permission_denials,
        ),
        Rule("lockout", frozenset({"auth.lockout"}), _user),
        Rule("role_change", frozenset({"user.role_change"}), _target("target_user_id")),
        Rule(
            "group_change",
            frozenset({"group.updated", "group.members_changed", "group.deleted"}),
            _target("group"),
        ),
        Rule("redis_fallback", frozenset({"redis.fallback"}), _everything),
        Rule(
            "admin_new_address",
            frozenset({"auth.signin"}),
            _admin_address,
            remember=settings.alert_admin_address_memory,
        ),
    )


class AlertRules:
    """A sink that turns security events into ``alert.*`` events (add it last)."""

    def __init__(
        self,
        events: SecurityEvents,
        storage: Storage,
        rules: Iterable[Rule],
        *,
        capacity: int = 10_000,
        max_quiet: int = 10_000,
    ) -> None:
        self._events = events
        self._storage = storage
        self._rules: dict[str, list[Rule]] = {}
        for rule in rules:
            for type_ in rule.types:
                self._rules.setdefault(type_, []).append(rule)
        self.capacity = capacity
        self.max_quiet = max_quiet
        self.dropped = 0
        self._pending: deque[tuple[Rule, str, SecurityEvent]] = deque()
        # (rule, subject) -> until when its alert of this window has fired (oldest first)
        self._quiet: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    def emit(self, event: SecurityEvent) -> None:
        rules = self._rules.get(event.type)
        if rules is None:
            return
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:  # another thread: evaluated on the loop, in order
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._offer, event, rules)
            else:  # no loop to count on: only the rules that count nothing apply
                self._offer(event, [rule for rule in rules if not rule.counted])
            return
        self._offer(event, rules)

    def _offer(self, event: SecurityEvent, rules: Sequence[Rule]) -> None:
        for rule in rules:
            subject = rule.subject(event)
            if subject is None:
                continue
            subject = subject[:MAX_SUBJECT]
            if not rule.counted:
                self._fire(rule, subject, event)
            elif not self._is_quiet(rule, subject, event.time):
                if len(self._pending) >= self.capacity:
                    if not self.dropped:
                        log.warning("alert rules are behind: events are dropped uncounted")
                    self.dropped += 1
                    continue
                self._pending.append((rule, subject, event))
        if self._pending and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while self._pending:
            count = min(len(self._pending), BATCH)
            batch = [self._pending.popleft() for _ in range(count)]
            await asyncio.gather(*(self._evaluate(*item) for item in batch))

    async def _evaluate(self, rule: Rule, subject: str, event: SecurityEvent) -> None:
        try:
            if rule.remember is not None:
                await self._first_seen(rule, subject, event, rule.remember)
            elif rule.threshold is not None:
                await self._count(rule, subject, event, rule.threshold)
        except Exception:  # one rule's trouble must not stop the others
            log.exception("the alert rule %s failed", rule.name)

    async def _first_seen(
        self, rule: Rule, subject: str, event: SecurityEvent, remember: float
    ) -> None:
        # A window of one: room in it means the subject was not seen in ``remember``.
        seen = await self._storage.acquire(
            [Window(f"alert:{rule.name}:{subject}", 1, remember)], event.time
        )
        if seen.allowed:
            self._fire(rule, subject, event)

    async def _count(
        self, rule: Rule, subject: str, event: SecurityEvent, limit: RateLimit
    ) -> None:
        now = event.time
        counted = await self._storage.acquire(
            [Window(f"alert:{rule.name}:{subject}", limit.amount, limit.period)], now
        )
        if counted.allowed and counted.states[0].count + 1 < limit.amount:
            return
        # At the threshold (or past it, full): one alert a window, whichever instance
        # gets there first takes this window's single slot.
        fired = await self._storage.acquire(
            [Window(f"alert:{rule.name}:fired:{subject}", 1, limit.period)], now
        )
        if fired.allowed:
            self._hush(rule, subject, now + limit.period)
            self._fire(rule, subject, event, limit)
        else:
            self._hush(rule, subject, fired.states[0].oldest + limit.period)

    def _is_quiet(self, rule: Rule, subject: str, now: float) -> bool:
        until = self._quiet.get((rule.name, subject))
        if until is None:
            return False
        if now < until:
            return True
        del self._quiet[(rule.name, subject)]
        return False

    def _hush(self, rule: Rule, subject: str, until: float) -> None:
        self._quiet[(rule.name, subject)] = until
        self._quiet.move_to_end((rule.name, subject))
        while len(self._quiet) > self.max_quiet:
            self._quiet.popitem(last=False)

    def _fire(
        self, rule: Rule, subject: str, event: SecurityEvent, limit: RateLimit | None = None
    ) -> None:
        details: dict[str, Any] = {"rule": rule.name, "subject": subject, "of": event.type}
        if limit is not None:
            details["threshold"] = str(limit)
        self._events.record(
            f"alert.{rule.name}",
            outcome="info",
            user_id=event.user_id,
            role=event.role,
            api_key_id=event.api_key_id,
            client_ip=event.client_ip,
            **details,
        )

    async def settle(self) -> None:
        """Wait until every queued event is evaluated (tests; an orderly shutdown)."""
        while self._task is not None and not self._task.done():
            await asyncio.gather(self._task, return_exceptions=True)
