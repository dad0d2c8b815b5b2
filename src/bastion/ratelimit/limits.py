"""A rate limit: at most ``amount`` hits in any rolling window of ``period`` seconds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


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
    from bastion.config import parse_duration

    amount_text, sep, period_text = text.strip().partition("/")
    if not sep or not amount_text.strip().isdigit():
        raise ValueError(f"{text!r} is not a limit like 5/3m")
    period_text = period_text.strip()
    if period_text.isalpha():
        period_text = f"1{period_text}"
    period: timedelta = parse_duration(period_text)
    amount = int(amount_text)
    if amount < 1:
        raise ValueError(f"{text!r} allows nothing")
    return RateLimit(amount, period.total_seconds())
