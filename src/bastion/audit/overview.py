"""The security overview: refusals counted per time bucket, the top sources, from the log.

Blocking file work, like :mod:`bastion.audit.query`: call it through
``anyio.to_thread.run_sync``. Refusals folded by the writer (``audit.coalesced``) count
with their ``count``, in the bucket of the window's last refusal, so a flood weighs what
it was and not one line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from bastion.audit.query import Filter, entries

Range = Literal["24h", "7d"]

# (bucket length, number of buckets) of each range.
RANGES: Mapping[str, tuple[timedelta, int]] = {
    "24h": (timedelta(hours=1), 24),
    "7d": (timedelta(days=1), 7),
}

KINDS = ("signin_failures", "lockouts", "ratelimit_hits", "api_key_denials", "csp_reports")

_KIND_OF_TYPE = {
    "auth.lockout": "lockouts",
    "ratelimit.hit": "ratelimit_hits",
    "api_key.denied": "api_key_denials",
    "csp.report": "csp_reports",
}

TOP_SOURCES = 10


@dataclass(frozen=True, slots=True)
class Overview:
    range: str
    bucket_starts: tuple[datetime, ...]
    bucket_seconds: int
    series: Mapping[str, tuple[int, ...]]
    top_sources: tuple[tuple[str, int], ...]

    @property
    def totals(self) -> dict[str, int]:
        return {kind: sum(counts) for kind, counts in self.series.items()}

    def as_json(self) -> dict[str, Any]:
        return {
            "range": self.range,
            "bucket_seconds": self.bucket_seconds,
            "buckets": [start.isoformat() for start in self.bucket_starts],
            "series": {kind: list(counts) for kind, counts in self.series.items()},
            "totals": self.totals,
            "top_sources": [{"client_ip": ip, "count": n} for ip, n in self.top_sources],
        }


def kind_of(entry: dict[str, Any]) -> tuple[str, int] | None:
    """The overview's kind of a log entry and how many refusals it stands for, or None."""
    type_ = entry.get("type")
    count: object = 1
    if type_ == "audit.coalesced":
        details = entry.get("details")
        if not isinstance(details, Mapping):
            return None
        type_ = details.get("of")
        count = details.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            return None
    if not isinstance(count, int):
        return None
    if type_ == "auth.signin":
        # A disabled account is refused after a correct password: not an attack signal.
        return ("signin_failures", count) if entry.get("outcome") == "failure" else None
    kind = _KIND_OF_TYPE.get(str(type_))
    return None if kind is None else (kind, count)


def buckets(range_: str, now: datetime) -> tuple[datetime, timedelta, int]:
    """The first bucket's start, the bucket length and the count; the last holds ``now``."""
    length, count = RANGES[range_]
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    current = epoch + length * ((now - epoch) // length)
    return current - length * (count - 1), length, count


def compute(range_: str, now: datetime, log: Iterable[dict[str, Any]]) -> Overview:
    """Count the refusals of ``log`` (entries, oldest first) into ``range_`` before ``now``."""
    start, length, count = buckets(range_, now)
    where = Filter(since=start, until=start + length * count)
    series = {kind: [0] * count for kind in KINDS}
    sources: Counter[str] = Counter()
    for entry in log:
        found = kind_of(entry)
        if found is None or not where.matches(entry):
            continue
        kind, weight = found
        index = (datetime.fromisoformat(entry["time"]) - start) // length
        series[kind][index] += weight
        ip = entry.get("client_ip")
        if isinstance(ip, str) and ip:
            sources[ip] += weight
    return Overview(
        range=range_,
        bucket_starts=tuple(start + length * i for i in range(count)),
        bucket_seconds=int(length.total_seconds()),
        series={kind: tuple(counts) for kind, counts in series.items()},
        top_sources=tuple(
            sorted(sources.items(), key=lambda item: (-item[1], item[0]))[:TOP_SOURCES]
        ),
    )


def overview(path: Path, range_: str, now: datetime) -> Overview:
    """The overview of the audit log at ``path`` (blocking: run it in a thread)."""
    return compute(range_, now, entries(path))
