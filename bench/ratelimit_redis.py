"""Authenticated, rate-limited, revocation-checked requests with Redis, three ways.

``GET /api/v1/auths/`` with a bearer token, under uvicorn (one worker each), loaded by
wrk in turn, alternately, twice (the best run of each counts):

- Bastion with ``REDIS_URL``: token verified, revocation and token version checked and
  the per-user limit counted in Redis (one script, one round trip), security headers;
- bare FastAPI answering the same JSON from constants (bench/bare_app.py);
- what a FastAPI user would pick instead: slowapi on Redis (moving window) with the
  ``secure`` package's headers and a PyJWT bearer check (bench/slowapi_app.py).

Redis round trips per request are counted with MONITOR over sequential requests:
commands from a client connection are round trips, those run inside a script are not.
Targets: at least 0.5 of bare FastAPI, at least 1.5 times the slowapi stack, one round
trip per request.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import jwt
from throughput import (
    BENCH_DIR,
    PATH,
    BenchError,
    WrkResult,
    bastion_environment,
    check_answers_200,
    free_port,
    run_wrk,
    sign_up,
    uvicorn_server,
)

ROUNDS = 2
ROUND_TRIP_SAMPLE = 200
TARGET_VS_BARE = 0.5
TARGET_VS_SLOWAPI = 1.5


@contextmanager
def redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise BenchError("redis-server not found: install the Debian package redis-server")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bastion-bench-redis-") as directory:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", directory],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise BenchError("redis-server did not start") from None
                    time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(timeout=10)


def round_trips_per_request(redis_url: str, url: str, headers: dict[str, str]) -> float:
    """Client commands Redis receives per request, counted with MONITOR."""
    host, port = redis_url.removeprefix("redis://").split("/")[0].split(":")
    seen: list[str] = []
    ready = threading.Event()
    stop = threading.Event()

    def monitor() -> None:
        with socket.create_connection((host, int(port)), timeout=0.2) as connection:
            connection.sendall(b"MONITOR\r\n")
            buffer = b""
            while not stop.is_set():
                try:
                    chunk = connection.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                buffer += chunk
                *lines, buffer = buffer.split(b"\r\n")
                for line in lines:
                    if line == b"+OK":
                        ready.set()
                    else:
                        seen.append(line.decode(errors="replace"))

    thread = threading.Thread(target=monitor, daemon=True)
    thread.start()
    if not ready.wait(5):
        raise BenchError("MONITOR did not start")
    with httpx.Client(headers=headers, timeout=10) as client:
        for _ in range(ROUND_TRIP_SAMPLE):
            if client.get(url).status_code != 200:
                raise BenchError(f"{url} refused a request while counting round trips")
    time.sleep(0.3)  # let MONITOR deliver the last lines
    stop.set()
    thread.join(timeout=5)
    from_clients = [line for line in seen if " [0 lua] " not in line]
    return len(from_clients) / ROUND_TRIP_SAMPLE


def main() -> dict[str, float]:
    best: dict[str, WrkResult] = {}
    secret = os.urandom(32).hex()
    with (
        tempfile.TemporaryDirectory(prefix="bastion-bench-") as data_dir,
        redis_server() as bastion_redis,
        redis_server() as slowapi_redis,
    ):
        bastion_env = {
            **bastion_environment(Path(data_dir)),
            "REDIS_URL": bastion_redis,
        }
        slowapi_env = {**os.environ, "BENCH_JWT_SECRET": secret, "BENCH_REDIS_URL": slowapi_redis}
        with (
            uvicorn_server("bare_app:app", app_dir=BENCH_DIR) as bare,
            uvicorn_server("bastion.app:app_from_env", factory=True, env=bastion_env) as bastion,
            uvicorn_server("slowapi_app:app", app_dir=BENCH_DIR, env=slowapi_env) as slow,
        ):
            token = sign_up(bastion)
            slow_token = jwt.encode({"sub": "bench-user"}, secret, algorithm="HS256")
            targets = {
                "bare fastapi": (bare + PATH, {}),
                "bastion+redis": (bastion + PATH, {"Authorization": f"Bearer {token}"}),
                "slowapi+secure": (slow + PATH, {"Authorization": f"Bearer {slow_token}"}),
            }
            for url, headers in targets.values():
                check_answers_200(url, headers)
            trips = {
                "bastion+redis": round_trips_per_request(bastion_redis, *targets["bastion+redis"]),
                "slowapi+secure": round_trips_per_request(
                    slowapi_redis, *targets["slowapi+secure"]
                ),
            }
            for _ in range(ROUNDS):
                for name, (url, headers) in targets.items():
                    result = run_wrk(url, [f"{key}: {value}" for key, value in headers.items()])
                    if name not in best or result.requests_per_s > best[name].requests_per_s:
                        best[name] = result

    for name, result in best.items():
        print(
            f"{name}: {result.requests_per_s:.0f} req/s (p50 {result.latency_p50_ms:.2f} ms, "
            f"p99 {result.latency_p99_ms:.2f} ms)"
            + (f", {trips[name]:.2f} Redis round trips/request" if name in trips else "")
        )
    vs_bare = best["bastion+redis"].requests_per_s / best["bare fastapi"].requests_per_s
    vs_slowapi = best["bastion+redis"].requests_per_s / best["slowapi+secure"].requests_per_s
    print(f"bastion+redis / bare fastapi: {vs_bare:.2f} (target >= {TARGET_VS_BARE})")
    print(f"bastion+redis / slowapi+secure: {vs_slowapi:.2f} (target >= {TARGET_VS_SLOWAPI})")
    print(f"Redis round trips per request: {trips['bastion+redis']:.2f} (target 1)")
    return {
        "bastion_req_per_s": best["bastion+redis"].requests_per_s,
        "bastion_p50_ms": best["bastion+redis"].latency_p50_ms,
        "bastion_p99_ms": best["bastion+redis"].latency_p99_ms,
        "bare_fastapi_req_per_s": best["bare fastapi"].requests_per_s,
        "bare_fastapi_p50_ms": best["bare fastapi"].latency_p50_ms,
        "bare_fastapi_p99_ms": best["bare fastapi"].latency_p99_ms,
        "slowapi_req_per_s": best["slowapi+secure"].requests_per_s,
        "slowapi_p50_ms": best["slowapi+secure"].latency_p50_ms,
        "slowapi_p99_ms": best["slowapi+secure"].latency_p99_ms,
        "ratio_vs_bare": vs_bare,
        "ratio_vs_slowapi": vs_slowapi,
        "bastion_redis_round_trips": trips["bastion+redis"],
        "slowapi_redis_round_trips": trips["slowapi+secure"],
    }


if __name__ == "__main__":
    main()
