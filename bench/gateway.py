"""The model gateway's cost: Bastion in front of a fake OpenAI-compatible upstream.

Both run under uvicorn (one worker each) on free ports of 127.0.0.1; every figure is
measured through Bastion and against the upstream directly in the same run:

- time to the first streamed byte of ``POST /chat/completions`` with ``stream: true``,
  p50 and p99 over alternating sequential requests (target: at most 2 ms added at p50),
  and the CPU time Bastion's process spent per streamed completion meanwhile (steadier
  than wall-clock figures on a shared machine);
- 100 concurrent streams held open (a dripping model): Bastion's RSS before and while
  they are open, and the growth per stream;
- non-streaming completions per second under wrk, and the ratio against direct.

Bastion calls as a plain user who was granted the model (the access check included),
authenticated as a browser is: the session cookie, its CSRF token and the page's origin.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from throughput import (
    ROOT,
    BenchError,
    _wait_until_answering,
    bastion_environment,
    free_port,
    parse_wrk,
)

MODEL = "gpt-normal"
DRIPPING = "gpt-dripping"  # a stream that stays open, a chunk every 20 ms
BODY = {"model": MODEL, "messages": [{"role": "user", "content": "Say hello"}]}
TTFB_REQUESTS = 300
STREAMS = 100
HOLD_S = 2.0
WRK_CONNECTIONS = 16
WRK_DURATION_S = 8
TARGET_ADDED_MS = 2.0
PASSWORD = "a-long-bench-passphrase-1"


@contextmanager
def serve(target: str, env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """``uvicorn --factory target`` in a subprocess: its base URL and process id."""
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", target, "--factory", "--host", "127.0.0.1",
        "--port", str(port), "--workers", "1", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_until_answering(process, base, log)
            yield base, process.pid
        finally:
            process.terminate()
            process.wait(timeout=10)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmRSS for process {pid}")


def cpu_ms(pid: int) -> float:
    """User and system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def browser_headers(base: str) -> dict[str, str]:
    """What a browser signed in as a plain user granted MODEL sends (the first account is
    the admin): the session cookie, its CSRF token and the page's origin."""

    def signup(email: str) -> dict[str, str]:
        body = {"name": "Bench", "email": email, "password": PASSWORD}
        answer = httpx.post(f"{base}/api/v1/auths/signup", json=body, timeout=30)
        if not answer.is_success:
            raise BenchError(f"sign-up answered {answer.status_code}: {answer.text[:300]}")
        return answer.json()  # type: ignore[no-any-return]

    admin, user = signup("admin@example.com"), signup("user@example.com")
    for model in (MODEL, DRIPPING):
        granted = httpx.post(
            f"{base}/api/v1/models/{model}/access",
            json={"user_ids": [user["id"]]},
            headers={"Authorization": f"Bearer {admin['token']}"},
        )
        if not granted.is_success:
            raise BenchError(f"granting {model} answered {granted.status_code}")
    return {
        "Cookie": f"token={user['token']}",
        "X-CSRF-Token": user["csrf_token"],
        "Origin": base,
    }


def first_byte_ms(client: httpx.Client, url: str, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    with client.stream("POST", url, json={**BODY, "stream": True}, headers=headers) as response:
        if response.status_code != 200:
            raise BenchError(f"{url} answered {response.status_code}")
        elapsed = 0.0
        for _ in response.iter_raw():
            elapsed = elapsed or (time.perf_counter() - started) * 1000
    return elapsed


def time_to_first_byte(
    targets: dict[str, tuple[str, dict[str, str]]], pid: int
) -> tuple[dict[str, list[float]], float]:
    """First-byte samples per target, and Bastion's CPU milliseconds per request."""
    samples: dict[str, list[float]] = {name: [] for name in targets}
    with httpx.Client(timeout=30) as client:
        for url, headers in targets.values():  # warm-up: connections, caches
            for _ in range(20):
                first_byte_ms(client, url, headers)
        cpu_before = cpu_ms(pid)
        for _ in range(TTFB_REQUESTS):
            for name, (url, headers) in targets.items():
                samples[name].append(first_byte_ms(client, url, headers))
        cpu_per_request = (cpu_ms(pid) - cpu_before) / TTFB_REQUESTS
    return samples, cpu_per_request


async def hold_streams(url: str, headers: dict[str, str], pid: int) -> tuple[float, float]:
    """Bastion's RSS (MiB) before, and with STREAMS dripping streams open at once."""
    limits = httpx.Limits(max_connections=STREAMS + 10)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        before = rss_mib(pid)
        opened = asyncio.Event()
        started = 0

        async def one() -> int:
            nonlocal started
            body = {**BODY, "model": DRIPPING, "stream": True}
            received = 0
            async with client.stream("POST", url, json=body, headers=headers) as response:
                if response.status_code != 200:
                    raise BenchError(f"stream answered {response.status_code}")
                async for chunk in response.aiter_raw():
                    if not received:
                        started += 1
                        if started == STREAMS:
                            opened.set()
                    received += len(chunk)
            return received

        tasks = [asyncio.create_task(one()) for _ in range(STREAMS)]
        waiter = asyncio.create_task(opened.wait())
        try:
            done, _ = await asyncio.wait(
                [waiter, *tasks], timeout=60, return_when=asyncio.FIRST_COMPLETED
            )
            if waiter not in done:
                failed = [task.exception() for task in done if task.exception()]
                raise BenchError(f"the streams did not all start: {failed[:1]}")
            await asyncio.sleep(HOLD_S)
            during = rss_mib(pid)
        finally:
            for task in [waiter, *tasks]:
                task.cancel()
            await asyncio.gather(waiter, *tasks, return_exceptions=True)
    return before, during


def completions_per_s(url: str, headers: dict[str, str]) -> float:
    script = "\n".join(
        [
            'wrk.method = "POST"',
            'wrk.headers["Content-Type"] = "application/json"',
            *[f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()],
            f"wrk.body = '{httpx.Request('POST', url, json=BODY).content.decode()}'",
        ]
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script)
        lua.flush()
        command = [
            "wrk", "-t2", f"-c{WRK_CONNECTIONS}", f"-d{WRK_DURATION_S}s", "--latency",
            "-s", lua.name, url,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise BenchError(f"wrk failed: {done.stderr.strip() or done.stdout.strip()}")
    result = parse_wrk(done.stdout)
    if result.non_2xx or result.socket_errors:
        raise BenchError(f"wrk saw errors against {url}: {result}")
    return result.requests_per_s


def main() -> dict[str, float]:
    with (
        tempfile.TemporaryDirectory(prefix="bastion-bench-") as data_dir,
        serve("tests.fake_upstreams:openai_app", dict(os.environ)) as (upstream, _),
    ):
        env = bastion_environment(Path(data_dir)) | {
            "OPENAI_API_BASE_URLS": f"{upstream}/v1",
            "OPENAI_API_KEYS": "sk-bench-upstream-key",
            "DEFAULT_USER_ROLE": "user",
            "MODEL_LIST_CACHE_TTL": "1h",
            # Completions have their own rate limit: it is checked, but must not stop the run.
            "COSTLY_RATE_LIMIT": "1000000000/1m",
        }
        with serve("bastion.app:app_from_env", env) as (bastion, pid):
            browser = browser_headers(bastion)
            direct_url = f"{upstream}/v1/chat/completions"
            bastion_url = f"{bastion}/api/chat/completions"
            targets = {"direct": (direct_url, {}), "bastion": (bastion_url, browser)}
            samples, cpu_per_stream = time_to_first_byte(targets, pid)
            before, during = asyncio.run(hold_streams(bastion_url, browser, pid))
            rates = {name: completions_per_s(url, hdrs) for name, (url, hdrs) in targets.items()}

    p50 = {name: statistics.median(values) for name, values in samples.items()}
    p99 = {name: statistics.quantiles(values, n=100)[98] for name, values in samples.items()}
    added = p50["bastion"] - p50["direct"]
    per_stream_kib = (during - before) * 1024 / STREAMS
    ratio = rates["bastion"] / rates["direct"]
    for name in targets:
        print(f"first byte {name}: p50 {p50[name]:.2f} ms, p99 {p99[name]:.2f} ms")
    print(f"added at p50: {added:.2f} ms (target <= {TARGET_ADDED_MS} ms)")
    print(f"Bastion CPU per streamed completion: {cpu_per_stream:.2f} ms")
    print(
        f"{STREAMS} open streams: Bastion RSS {before:.1f} MiB -> {during:.1f} MiB, "
        f"{per_stream_kib:.1f} KiB per stream"
    )
    for name in targets:
        print(f"non-streaming completions {name}: {rates[name]:.0f}/s")
    print(f"ratio bastion/direct: {ratio:.2f}")
    return {
        "ttfb_direct_p50_ms": p50["direct"],
        "ttfb_bastion_p50_ms": p50["bastion"],
        "ttfb_added_p50_ms": added,
        "ttfb_bastion_p99_ms": p99["bastion"],
        "bastion_cpu_per_stream_ms": cpu_per_stream,
        "rss_before_mib": before,
        "rss_100_streams_mib": during,
        "rss_per_stream_kib": per_stream_kib,
        "completions_direct_per_s": rates["direct"],
        "completions_bastion_per_s": rates["bastion"],
        "completions_ratio": ratio,
    }


if __name__ == "__main__":
    main()
