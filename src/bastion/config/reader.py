"""The environment reader and the value parsers settings are made of.

A leaf: it imports nothing of Bastion, so any module may parse a duration, a size or a
network without importing the settings.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(Exception):
    """A setting that cannot be used; ``str()`` is the one line printed at start."""

    def __init__(self, variable: str, problem: str, fix: str) -> None:
        self.variable = variable
        self.problem = problem
        self.fix = fix
        super().__init__(f"{variable}: {problem}. Fix: {fix}.")


def split_url(name: str, value: str, fix: str) -> SplitResult:
    """``urlsplit`` of a variable's value; what it cannot read (a broken IPv6 literal, a
    port out of range, which it checks only when asked) is that variable's error."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (parsed on access)
    except ValueError:
        raise SettingsError(name, f"{value!r} is not a URL", fix) from None
    return parts


def file_path(name: str, value: str) -> Path:
    """A variable's value as an absolute path (``~`` expanded)."""
    if "\x00" in value:
        raise SettingsError(name, "the path holds a NUL character", "give a file system path")
    return Path(value).expanduser().resolve()


class EnvReader:
    """Reads and converts variables, collecting warnings on the way."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.env = environ
        self.warnings: list[str] = []
        self.notices: list[str] = []

    def raw(self, name: str) -> str | None:
        return self.env.get(name)

    def text(self, name: str, default: str) -> str:
        value = self.env.get(name)
        return default if value is None else value.strip()

    def optional(self, name: str) -> str | None:
        value = self.env.get(name)
        if value is None or not value.strip():
            return None
        return value.strip()

    def flag(self, name: str, default: bool) -> bool:
        value = self.env.get(name)
        if value is None or not value.strip():
            return default
        lowered = value.strip().lower()
        if lowered in {"true", "1", "yes", "on"}:
            return True
        if lowered in {"false", "0", "no", "off"}:
            return False
        raise SettingsError(name, f"{value!r} is not a boolean", "use true or false")

    def integer(self, name: str, default: int, *, minimum: int, maximum: int) -> int:
        value = self.env.get(name)
        if value is None or not value.strip():
            return default
        try:
            number = int(value.strip())
        except ValueError:
            raise SettingsError(
                name,
                f"{value!r} is not a whole number",
                f"use a number from {minimum} to {maximum}",
            ) from None
        if not minimum <= number <= maximum:
            raise SettingsError(
                name, f"{number} is out of range", f"use a number from {minimum} to {maximum}"
            )
        return number

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.text(name, default).lower()
        if value not in choices:
            raise SettingsError(
                name,
                f"{self.env.get(name)!r} is not one of {', '.join(choices)}",
                f"set it to one of {', '.join(choices)}",
            )
        return value

    def csv(self, name: str, sep: str = ",") -> tuple[str, ...]:
        value = self.env.get(name) or ""
        return tuple(part.strip() for part in value.split(sep) if part.strip())

    def size(self, name: str, default: str) -> int:
        """A positive byte count such as ``1MB`` or ``262144``."""
        value = self.text(name, default)
        try:
            size = parse_size(value)
        except ValueError:
            raise SettingsError(
                name, f"{value!r} is not a size", "use e.g. 1MB or 262144"
            ) from None
        if size <= 0:
            raise SettingsError(name, "the size must be positive", "use e.g. 1MB")
        return size

    def seconds(self, name: str, default: str) -> float:
        """A duration such as ``500ms`` or ``5m``, in seconds."""
        value = self.text(name, default) or default
        try:
            return parse_duration(value).total_seconds()
        except ValueError:
            raise SettingsError(
                name, f"{value!r} is not a duration", "use a duration such as 500ms, 30s or 5m"
            ) from None

    def limit(self, name: str, default: str) -> RateLimit:
        """A rate limit such as ``5/3m``."""
        value = self.text(name, default) or default
        try:
            return parse_limit(value)
        except ValueError:
            raise SettingsError(
                name, f"{value!r} is not a rate limit", "use N/period, e.g. 5/3m or 100/1h"
            ) from None


_DURATION_PART = re.compile(r"(\d+)\s*(ms|s|m|h|d|w)", re.IGNORECASE)


_DURATION_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}


def parse_duration(text: str) -> timedelta:
    """``30m``, ``12h``, ``7d``, ``4w`` or sums such as ``1d12h``; raises ValueError."""
    compact = re.sub(r"\s+", "", text)
    if not compact or _DURATION_PART.sub("", compact):
        raise ValueError(f"{text!r} is not a duration")
    total = timedelta()
    for amount, unit in _DURATION_PART.findall(compact):
        total += int(amount) * _DURATION_UNITS[unit.lower()]
    if total <= timedelta():
        raise ValueError(f"{text!r} is not a positive duration")
    return total


_SIZE = re.compile(r"(\d+)\s*(b|kb|kib|mb|mib|gb|gib)?", re.IGNORECASE)


_SIZE_UNITS = {
    None: 1,
    "b": 1,
    "kb": 1000,
    "kib": 1024,
    "mb": 1000**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "gib": 1024**3,
}


def parse_size(text: str) -> int:
    """``2048``, ``64KiB``, ``10MB``: a byte count; raises ValueError."""
    match = _SIZE.fullmatch(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a size")
    unit = match.group(2).lower() if match.group(2) else None
    return int(match.group(1)) * _SIZE_UNITS[unit]


# A rate limit: at most ``amount`` hits in any rolling window of ``period`` seconds.
@dataclass(frozen=True, slots=True)
class RateLimit:
    amount: int
    period: float  # seconds

    def __str__(self) -> str:
        return f"{self.amount}/{self.period:g}s"


def parse_limit(text: str) -> RateLimit:
    """``5/3m``, ``100/1h``, ``10/s``: N hits per period; raises ValueError.

    The period uses the durations of ``parse_duration`` (``1d12h`` works); a bare unit
    means one of it.
    """
    amount_text, sep, period_text = text.strip().partition("/")
    if not sep or not (amount_text.strip().isascii() and amount_text.strip().isdigit()):
        raise ValueError(f"{text!r} is not a limit like 5/3m")
    period_text = period_text.strip()
    if period_text.isalpha():
        period_text = f"1{period_text}"
    period = parse_duration(period_text)
    amount = int(amount_text)
    if amount < 1:
        raise ValueError(f"{text!r} allows nothing")
    return RateLimit(amount, period.total_seconds())
