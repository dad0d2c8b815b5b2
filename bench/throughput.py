"""Requests per second of an authenticated ``GET /api/v1/auths/``: Bastion against bare FastAPI.

Both run under uvicorn (one worker, no access log) on free ports of 127.0.0.1, and wrk
loads each in turn, alternately, five times. Each pair of neighbouring runs gives a ratio,
so a slow moment of the machine weighs on both sides of it; the median of the five ratios
is the figure, with the spread printed beside it. Bastion runs on the embedded default
(SQLite in a fresh temporary DATA_DIR, generated secret key), signed in as its first
account through the session cookie, as a browser would be. The target is a ratio of at
least 0.7: the security layer may cost up to 30 % of bare FastAPI's rate.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
PATH = "/api/v1/auths/"
SIGNUP = {"name": "Bench", "email": "bench@example.com", "password": "a-long-bench-passphrase-1"}
WRK_THREADS = 2
WRK_CONNECTIONS = 32
WRK_DURATION_S = 10
ROUNDS = 2
RUNS = 5
TARGET_RATIO = 0.7
START_TIMEOUT_S = 30.0

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


class BenchError(RuntimeError):
    """The benchmark could not measure what it is meant to measure."""


@dataclass(frozen=True)
class WrkResult:
    requests: int
    requests_per_s: float
    latency_avg_ms: float
    latency_p50_ms: float
    latency_p99_ms: float
    non_2xx: int
    socket_errors: int


def parse_wrk(output: str) -> WrkResult:
    """Read the figures out of ``wrk --latency`` output."""
    total = re.search(r"^\s*(\d+) requests in", output, re.MULTILINE)
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    average = re.search(r"^\s+Latency\s+([\d.]+)(us|ms|s|m)\b", output, re.MULTILINE)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s|m)\b", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\b", output, re.MULTILINE)
    if not (total and rate and average and p50 and p99):
        raise BenchError(f"unexpected wrk output: {output.strip()[-300:]!r}")
    non_2xx = re.search(r"^\s*Non-2xx or 3xx responses:\s+(\d+)", output, re.MULTILINE)
    errors = re.search(
        r"^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
        output,
        re.MULTILINE,
    )
    return WrkResult(
        requests=int(total.group(1)),
        requests_per_s=float(rate.group(1)),
        latency_avg_ms=float(average.group(1)) * _UNITS_MS[average.group(2)],
        latency_p50_ms=float(p50.group(1)) * _UNITS_MS[p50.group(2)],
        latency_p99_ms=float(p99.group(1)) * _UNITS_MS[p99.group(2)],
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def run_wrk(
    url: str,
    headers: Sequence[str] = (),
    duration_s: int = WRK_DURATION_S,
    *,
    body: str | None = None,
    connections: int = WRK_CONNECTIONS,
) -> WrkResult:
    """wrk against ``url``: GET, or POST of ``body`` (JSON) when one is given."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise BenchError("wrk not found: install the Debian package wrk (bin/bench does)")
    command = [wrk, f"-t{WRK_THREADS}", f"-c{connections}", f"-d{duration_s}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        if body is not None:
            quoted = body.replace("\\", "\\\\").replace("'", "\\'")
            script.write(f"wrk.method = 'POST'\nwrk.body = '{quoted}'\n")
            script.write("wrk.headers['Content-Type'] = 'application/json'\n")
            script.flush()
            command += ["-s", script.name]
        done = subprocess.run(
            [*command, url], capture_output=True, text=True, timeout=duration_s + 60, check=False
        )
    if done.returncode != 0:
        raise BenchError(f"wrk failed: {done.stderr.strip() or done.stdout.strip()}")
    result = parse_wrk(done.stdout)
    # Errors answer faster than the real thing: a run with any is no measurement.
    if result.non_2xx or result.socket_errors:
        raise BenchError(
            f"{url} gave {result.non_2xx} non-2xx answers and {result.socket_errors} socket "
            "errors under load; the figure would be meaningless"
        )
    return result


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def uvicorn_server(
    target: str,
    *,
    factory: bool = False,
    app_dir: Path | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[str]:
    """Run ``target`` under uvicorn in a subprocess; yield its base URL once it answers."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        target,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    if factory:
        command.append("--factory")
    if app_dir is not None:
        command += ["--app-dir", str(app_dir)]
    with running(command, env, port) as (base, _):
        yield base


@contextmanager
def running(command: list[str], env: dict[str, str] | None, port: int) -> Iterator[tuple[str, int]]:
    """Start ``command`` (a server on ``port``); yield its base URL and process id once it
    answers, and stop it afterwards."""
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_until_answering(process, base, log)
            yield base, process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _wait_until_answering(process: subprocess.Popen[bytes], base: str, log: IO[str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"uvicorn exited with {process.returncode}: {_tail(log)}")
        try:
            httpx.get(f"{base}/", timeout=1.0)
        except httpx.TransportError:
            time.sleep(0.1)
        else:
            return
    raise BenchError(f"uvicorn did not answer on {base} within {START_TIMEOUT_S:.0f} s")


def _tail(log: IO[str]) -> str:
    log.seek(0)
    lines = log.read().strip().splitlines()
    return " | ".join(lines[-5:]) or "no output"


def bastion_environment(data_dir: Path) -> dict[str, str]:
    """The embedded default: a fresh DATA_DIR, a generated key, no external services."""
    env = dict(os.environ)
    for name in ("WEBUI_SECRET_KEY", "DATABASE_URL", "REDIS_URL"):
        env.pop(name, None)
    env["DATA_DIR"] = str(data_dir)
    # The per-user limit is counted on every request but set out of wrk's reach: a 429
    # would end the measurement.
    env["API_RATE_LIMIT_USER"] = "1000000000/1m"
    return env


def sign_up(base: str) -> str:
    """Create the first account (an admin) and return its session token."""
    answer = httpx.post(f"{base}/api/v1/auths/signup", json=SIGNUP, timeout=30.0)
    if not answer.is_success:
        raise BenchError(f"sign-up answered {answer.status_code}: {answer.text[:300]}")
    if "token" not in answer.cookies:
        raise BenchError("sign-up set no 'token' cookie")
    token: str = answer.json()["token"]
    return token


def check_answers_200(url: str, headers: dict[str, str]) -> None:
    answer = httpx.get(url, headers=headers, timeout=10.0)
    if answer.status_code != 200:
        raise BenchError(f"GET {url} answered {answer.status_code}: {answer.text[:300]}")


def best_of_rounds(
    targets: dict[str, tuple[str, Sequence[str]]], rounds: int = ROUNDS
) -> dict[str, WrkResult]:
    """Load each target in turn, ``rounds`` times over; the best run of each."""
    best: dict[str, WrkResult] = {}
    for _ in range(rounds):
        for name, (url, headers) in targets.items():
            result = run_wrk(url, headers)
            if name not in best or result.requests_per_s > best[name].requests_per_s:
                best[name] = result
    return best


def interleaved_runs(
    targets: dict[str, tuple[str, Sequence[str]]], runs: int = RUNS
) -> dict[str, list[WrkResult]]:
    """Load each target in turn, ``runs`` times over; every run of each, in order."""
    results: dict[str, list[WrkResult]] = {name: [] for name in targets}
    for _ in range(runs):
        for name, (url, headers) in targets.items():
            results[name].append(run_wrk(url, headers))
    return results


def main() -> dict[str, float]:
    with (
        tempfile.TemporaryDirectory(prefix="bastion-bench-") as data_dir,
        uvicorn_server("bare_app:app", app_dir=BENCH_DIR) as bare,
        uvicorn_server(
            "bastion.app:app_from_env", factory=True, env=bastion_environment(Path(data_dir))
        ) as bastion,
    ):
        token = sign_up(bastion)
        cookie = f"token={token}"
        check_answers_200(bare + PATH, {})
        check_answers_200(bastion + PATH, {"Cookie": cookie})
        targets = {
            "bare fastapi": (bare + PATH, ()),
            "bastion": (bastion + PATH, (f"Cookie: {cookie}",)),
        }
        runs = interleaved_runs(targets)

    ratios = [
        ours.requests_per_s / theirs.requests_per_s
        for ours, theirs in zip(runs["bastion"], runs["bare fastapi"], strict=True)
    ]
    ratio = statistics.median(ratios)
    median = {
        name: statistics.median(result.requests_per_s for result in results)
        for name, results in runs.items()
    }
    for name in ("bastion", "bare fastapi"):
        p99 = statistics.median(result.latency_p99_ms for result in runs[name])
        print(f"{name}: {median[name]:.0f} req/s (median of {RUNS}; p99 {p99:.2f} ms)")
    print(
        f"ratio: {ratio:.2f}, median of {RUNS} interleaved runs "
        f"({min(ratios):.2f} to {max(ratios):.2f}; target >= {TARGET_RATIO})"
    )
    return {
        "bastion_req_per_s": median["bastion"],
        "bastion_p99_ms": statistics.median(r.latency_p99_ms for r in runs["bastion"]),
        "bare_fastapi_req_per_s": median["bare fastapi"],
        "bare_fastapi_p99_ms": statistics.median(r.latency_p99_ms for r in runs["bare fastapi"]),
        "ratio": ratio,
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
    }


if __name__ == "__main__":
    main()
