"""The model gateway's cost: Bastion against the same fake OpenAI-compatible upstream
called directly, through a pass-through proxy with no security (``passthrough_app``),
and through LiteLLM's proxy when it can be installed.

Every server runs under its own process (one worker), so the CPU time each spends per
completion is read from ``/proc/PID/stat``: steadier than wall-clock figures on a shared
machine, and the figure that bounds how many completions a core serves. Bastion is
called both as a browser (session cookie, CSRF token, origin) and as a program (an
``sk-`` API key), as a plain user granted the model (the access check included).

- first streamed byte, p50 and p99 over interleaved batches of sequential requests, and
  each proxy's CPU per streamed completion meanwhile;
- non-streamed completions per second under wrk (16 connections), and CPU per completion;
- 100 dripping streams held open: RSS per open stream.

Targets (issue figures): Bastion's CPU per completion at most 2x the pass-through's,
at least 5x LiteLLM's completions per second, at most 2 ms added to the first byte.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from _gateway_servers import (
    LITELLM_MASTER_KEY,
    bastion_callers,
    gateway_environment,
    litellm,
    litellm_unavailable,
    serve,
)
from throughput import BenchError, run_wrk

MODEL = "gpt-normal"
DRIPPING = "gpt-dripping"  # a stream that stays open, a chunk every 20 ms
MODELS = (MODEL, DRIPPING)
BODY = {"model": MODEL, "messages": [{"role": "user", "content": "Say hello"}]}
ROUNDS = 6
BATCH = 50
STREAMS = 100
HOLD_S = 2.0
WRK_CONNECTIONS = 16
WRK_DURATION_S = 8
TARGET_ADDED_MS = 2.0
TARGET_CPU_VS_PASSTHROUGH = 2.0
TARGET_RATE_VS_LITELLM = 5.0


@dataclass
class Target:
    name: str
    url: str
    headers: dict[str, str]
    pid: int
    first_bytes: list[float] = field(default_factory=list)
    stream_cpu_ms: float = 0.0
    streams: int = 0
    rate: float = 0.0
    completion_cpu_ms: float = 0.0
    rss_per_stream_kib: float | None = None

    @property
    def cpu_per_stream(self) -> float:
        return self.stream_cpu_ms / self.streams

    def p(self, percent: int) -> float:
        return statistics.quantiles(self.first_bytes, n=100)[percent - 1]


def cpu_ms(pid: int) -> float:
    """User and system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def first_byte_ms(client: httpx.Client, target: Target) -> float:
    started = time.perf_counter()
    body = {**BODY, "stream": True}
    with client.stream("POST", target.url, json=body, headers=target.headers) as response:
        if response.status_code != 200:
            raise BenchError(f"{target.name} answered {response.status_code}")
        elapsed = 0.0
        for _ in response.iter_raw():
            elapsed = elapsed or (time.perf_counter() - started) * 1000
    return elapsed


def measure_streams(targets: list[Target]) -> None:
    """Interleaved batches: each target's first-byte samples and CPU per stream."""
    with httpx.Client(timeout=30) as client:
        for target in targets:  # warm-up: connections, caches
            for _ in range(20):
                first_byte_ms(client, target)
        for _ in range(ROUNDS):
            for target in targets:
                before = cpu_ms(target.pid)
                target.first_bytes += [first_byte_ms(client, target) for _ in range(BATCH)]
                target.stream_cpu_ms += cpu_ms(target.pid) - before
                target.streams += BATCH


def measure_completions(target: Target) -> None:
    """Non-streamed completions per second under wrk, and CPU per completion."""
    headers = [f"{name}: {value}" for name, value in target.headers.items()]
    before = cpu_ms(target.pid)
    result = run_wrk(
        target.url, headers, WRK_DURATION_S, body=json.dumps(BODY), connections=WRK_CONNECTIONS
    )
    target.rate = result.requests_per_s
    target.completion_cpu_ms = (cpu_ms(target.pid) - before) / result.requests


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"no VmRSS for process {pid}")


async def rss_per_stream_kib(target: Target) -> float:
    """How much the proxy's RSS grows per stream with STREAMS dripping streams open."""
    limits = httpx.Limits(max_connections=STREAMS + 10)
    body = {**BODY, "model": DRIPPING, "stream": True}
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        before = rss_kib(target.pid)
        opened = asyncio.Event()
        started = 0

        async def one() -> None:
            nonlocal started
            async with client.stream(
                "POST", target.url, json=body, headers=target.headers
            ) as response:
                if response.status_code != 200:
                    raise BenchError(f"{target.name} stream answered {response.status_code}")
                chunks = response.aiter_raw()
                await anext(chunks)
                started += 1
                if started == STREAMS:
                    opened.set()
                async for _ in chunks:
                    pass

        tasks = [asyncio.create_task(one()) for _ in range(STREAMS)]
        waiter = asyncio.create_task(opened.wait())
        try:
            done, _ = await asyncio.wait(
                [waiter, *tasks], timeout=60, return_when=asyncio.FIRST_COMPLETED
            )
            if waiter not in done:
                failed = [task.exception() for task in done if task.exception()]
                raise BenchError(f"{target.name}: the streams did not all start: {failed[:1]}")
            await asyncio.sleep(HOLD_S)
            during = rss_kib(target.pid)
        finally:
            for task in [waiter, *tasks]:
                task.cancel()
            await asyncio.gather(waiter, *tasks, return_exceptions=True)
    return (during - before) / STREAMS


def report(targets: dict[str, Target], litellm_reason: str | None) -> dict[str, float]:
    figures: dict[str, float] = {}
    for name, target in targets.items():
        rss = (
            ""
            if target.rss_per_stream_kib is None
            else f", {target.rss_per_stream_kib:.1f} KiB per open stream"
        )
        print(
            f"{name}: first byte p50 {target.p(50):.2f} ms, p99 {target.p(99):.2f} ms; "
            f"CPU {target.cpu_per_stream:.2f} ms per stream, {target.completion_cpu_ms:.2f} ms "
            f"per completion; {target.rate:.0f} completions/s{rss}"
        )
        key = name.replace(" ", "_").replace("-", "_")
        figures |= {
            f"{key}_ttfb_p50_ms": target.p(50),
            f"{key}_ttfb_p99_ms": target.p(99),
            f"{key}_cpu_per_stream_ms": target.cpu_per_stream,
            f"{key}_cpu_per_completion_ms": target.completion_cpu_ms,
            f"{key}_completions_per_s": target.rate,
        }
        if target.rss_per_stream_kib is not None:
            figures[f"{key}_rss_per_stream_kib"] = target.rss_per_stream_kib
    direct, passthrough = targets["direct"], targets["passthrough"]
    for name in ("bastion cookie", "bastion sk-key"):
        bastion = targets[name]
        added = bastion.p(50) - direct.p(50)
        cpu_ratio = bastion.completion_cpu_ms / passthrough.completion_cpu_ms
        stream_ratio = bastion.cpu_per_stream / passthrough.cpu_per_stream
        print(
            f"{name}: {added:.2f} ms added to the first byte at p50 (target <= "
            f"{TARGET_ADDED_MS}); CPU {cpu_ratio:.2f}x the pass-through's per completion, "
            f"{stream_ratio:.2f}x per stream (target <= {TARGET_CPU_VS_PASSTHROUGH}); "
            f"completions {bastion.rate / direct.rate:.2f} of direct"
        )
        key = name.replace(" ", "_").replace("-", "_")
        figures |= {
            f"{key}_added_p50_ms": added,
            f"{key}_cpu_vs_passthrough": cpu_ratio,
            f"{key}_stream_cpu_vs_passthrough": stream_ratio,
        }
        if "litellm" in targets:
            versus = bastion.rate / targets["litellm"].rate
            print(f"{name}: {versus:.2f}x LiteLLM's completions/s (target >= 5)")
            figures[f"{key}_rate_vs_litellm"] = versus
    if litellm_reason is not None:
        print(f"litellm: not measured: {litellm_reason}")
    return figures


def main() -> dict[str, float]:
    litellm_reason = litellm_unavailable()
    with (
        tempfile.TemporaryDirectory(prefix="bastion-bench-") as data_dir,
        serve("tests.fake_upstreams:openai_app", dict(os.environ), "--factory") as (up, up_pid),
    ):
        env = gateway_environment(Path(data_dir), up)
        passthrough_env = {**os.environ, "PASSTHROUGH_UPSTREAM": f"{up}/v1"}
        with (
            serve("bastion.app:app_from_env", env, "--factory") as (bastion, pid),
            serve("passthrough_app:app", passthrough_env) as (proxy, proxy_pid),
        ):
            browser, program = bastion_callers(bastion, MODELS)
            targets = {
                "direct": Target("direct", f"{up}/v1/chat/completions", {}, up_pid),
                "passthrough": Target("passthrough", f"{proxy}/v1/chat/completions", {}, proxy_pid),
                "bastion cookie": Target(
                    "bastion cookie", f"{bastion}/api/chat/completions", browser, pid
                ),
                "bastion sk-key": Target(
                    "bastion sk-key", f"{bastion}/api/chat/completions", program, pid
                ),
            }
            if litellm_reason is None:
                with litellm(up, MODELS) as (other, other_pid):
                    targets["litellm"] = Target(
                        "litellm",
                        f"{other}/v1/chat/completions",
                        {"Authorization": f"Bearer {LITELLM_MASTER_KEY}"},
                        other_pid,
                    )
                    _measure(list(targets.values()))
            else:
                _measure(list(targets.values()))
    return report(targets, litellm_reason)


def _measure(targets: list[Target]) -> None:
    measure_streams(targets)
    measured: set[int] = set()
    for target in targets:
        measure_completions(target)
        # Once per process: a second run in the same one reuses the memory the first
        # freed, and would show almost nothing.
        if target.name != "direct" and target.pid not in measured:
            target.rss_per_stream_kib = asyncio.run(rss_per_stream_kib(target))
            measured.add(target.pid)


if __name__ == "__main__":
    main()
