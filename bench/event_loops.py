"""uvloop and httptools judged by Bastion's own speed, not by a ratio.

Bastion and bare FastAPI are each served twice in the same run, once with asyncio's
loop and h11 (uvicorn's pure-Python defaults) and once with uvloop and httptools
(``--loop uvloop --http httptools``); every server gets the same load, interleaved:

- the authenticated ``GET /api/v1/auths/`` (session cookie) under wrk: requests per
  second and CPU per request of the server's process;
- non-streamed completions with an ``sk-`` key in front of the fake upstream: completions
  per second and CPU per completion.

What to adopt is decided by Bastion's own figures (requests/s up, CPU per request
down); bare FastAPI is served the same two ways so that the ratios stay honest.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from _gateway_servers import bastion_callers, gateway_environment, serve
from gateway import BODY, MODELS, cpu_ms
from throughput import PATH, check_answers_200, run_wrk

ROUNDS = 3
SERVINGS = {
    "asyncio+h11": ("--loop", "asyncio", "--http", "h11"),
    "uvloop+httptools": ("--loop", "uvloop", "--http", "httptools"),
}


def _load(url: str, headers: dict[str, str], pid: int, body: str | None) -> tuple[float, float]:
    """Requests per second and the server's CPU milliseconds per request."""
    lines = [f"{name}: {value}" for name, value in headers.items()]
    before = cpu_ms(pid)
    result = run_wrk(url, lines, body=body)
    return result.requests_per_s, (cpu_ms(pid) - before) / result.requests


def main() -> dict[str, float]:
    figures: dict[str, float] = {}
    best: dict[str, tuple[float, float]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="bastion-bench-") as data_dir,
        serve("tests.fake_upstreams:openai_app", dict(os.environ), "--factory") as (up, _),
    ):
        servers = {}
        for serving, options in SERVINGS.items():
            env = gateway_environment(Path(data_dir) / serving, up)
            servers[serving] = (
                serve("bastion.app:app_from_env", env, "--factory", *options),
                serve("bare_app:app", dict(os.environ), *options),
            )
        with (
            servers["asyncio+h11"][0] as (bastion_a, pid_a),
            servers["asyncio+h11"][1] as (bare_a, bare_pid_a),
            servers["uvloop+httptools"][0] as (bastion_u, pid_u),
            servers["uvloop+httptools"][1] as (bare_u, bare_pid_u),
        ):
            loads = {}
            for serving, base, pid, bare, bare_pid in (
                ("asyncio+h11", bastion_a, pid_a, bare_a, bare_pid_a),
                ("uvloop+httptools", bastion_u, pid_u, bare_u, bare_pid_u),
            ):
                browser, program = bastion_callers(base, MODELS)
                cookie = {"Cookie": browser["Cookie"]}
                check_answers_200(base + PATH, cookie)
                loads[f"bastion {serving} auths"] = (base + PATH, cookie, pid, None)
                loads[f"bare {serving} auths"] = (bare + PATH, {}, bare_pid, None)
                loads[f"bastion {serving} completions"] = (
                    f"{base}/api/chat/completions",
                    program,
                    pid,
                    BODY,
                )
            for _ in range(ROUNDS):
                for name, (url, headers, pid, body) in loads.items():
                    rate, cpu = _load(url, headers, pid, None if body is None else json.dumps(body))
                    if name not in best or rate > best[name][0]:
                        best[name] = (rate, cpu)
    for name, (rate, cpu) in best.items():
        print(f"{name}: {rate:.0f}/s, {cpu:.3f} ms CPU each")
        key = name.replace(" ", "_").replace("+", "_")
        figures |= {f"{key}_per_s": rate, f"{key}_cpu_ms": cpu}
    for what in ("auths", "completions"):
        plain, fast = best[f"bastion asyncio+h11 {what}"], best[f"bastion uvloop+httptools {what}"]
        print(
            f"bastion {what}: uvloop+httptools gives {fast[0] / plain[0]:.2f}x the requests/s "
            f"and {fast[1] / plain[1]:.2f}x the CPU per request of asyncio+h11"
        )
        figures[f"bastion_{what}_speedup"] = fast[0] / plain[0]
    for serving in SERVINGS:
        ratio = best[f"bastion {serving} auths"][0] / best[f"bare {serving} auths"][0]
        print(f"{serving}: bastion/bare FastAPI on GET {PATH}: {ratio:.2f}")
        figures[f"ratio_{serving.replace('+', '_')}"] = ratio
    return figures


if __name__ == "__main__":
    main()
