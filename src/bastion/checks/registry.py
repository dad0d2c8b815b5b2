"""Messages, the list of checks and running them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property
from typing import Any

import anyio

from bastion.config import Settings
from bastion.http.header_values import DEFAULT_CSP, build_security_headers


class Level(IntEnum):
    WARNING = 30
    ERROR = 40

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Message:
    id: str  # stable: bastion.W020 means the same thing in every release
    level: Level
    problem: str  # one line, no final full stop
    hint: str  # names the variable and the fix, no final full stop

    def __str__(self) -> str:
        return f"{self.id} ({self.level.label}): {self.problem}. Fix: {self.hint}."

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "level": self.level.label,
            "problem": self.problem,
            "hint": self.hint,
        }


def warning(number: int, problem: str, hint: str) -> Message:
    return Message(f"bastion.W{number:03d}", Level.WARNING, problem, hint)


def error(number: int, problem: str, hint: str) -> Message:
    return Message(f"bastion.E{number:03d}", Level.ERROR, problem, hint)


@dataclass(frozen=True)
class Target:
    """What the checks look at: the settings, and what only the database knows."""

    settings: Settings
    accounts_exist: bool | None = None  # None: not known, the checks that need it pass

    @cached_property
    def headers_sent(self) -> dict[str, str]:
        """The security headers the configuration sends, by lower-case name (built once
        for every check that reads them)."""
        headers, _ = build_security_headers(self.settings)
        sent = {
            name.decode(): value.decode()
            for name, value in (*headers.enforced, *headers.overridable)
        }
        if headers.hsts is not None:
            sent["strict-transport-security"] = headers.hsts.decode()
        if headers.nonce_csp is not None:
            sent["content-security-policy"] = DEFAULT_CSP
        return sent


Check = Callable[[Target], Iterable[Message]]

_CHECKS: list[tuple[Check, bool]] = []


def register(*, deploy: bool = False) -> Callable[[Check], Check]:
    """Add a check; ``deploy`` checks run only when asked for production (``--deploy``)."""

    def add(check: Check) -> Check:
        _CHECKS.append((check, deploy))
        return check

    return add


def run_checks(target: Target, *, deploy: bool) -> list[Message]:
    """Every message of every check that applies, by ID."""
    messages: Iterator[Message] = (
        message
        for check, deploy_only in _CHECKS
        if deploy or not deploy_only
        for message in check(target)
    )
    return sorted(messages, key=lambda message: message.id)


async def review_running(settings: Settings) -> list[Message]:
    """The production checks of the running configuration, as the security overview
    shows them (an admin is looking, so accounts exist); off the event loop, since
    checks read file modes."""
    target = Target(settings, accounts_exist=True)
    return await anyio.to_thread.run_sync(lambda: run_checks(target, deploy=True))
