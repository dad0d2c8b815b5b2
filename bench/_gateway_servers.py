"""The servers bench/gateway.py measures: the fake upstream, the pass-through proxy,
Bastion, and LiteLLM's proxy when it can be installed.

Each runs in its own process on a free port of 127.0.0.1, so that its CPU time can be
read from ``/proc/PID/stat``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from throughput import ROOT, BenchError, bastion_environment, free_port, running

BENCH_DIR = Path(__file__).resolve().parent
LITELLM_VENV = ROOT / ".venv-litellm"
LITELLM_REQUIREMENTS = BENCH_DIR / "requirements-litellm.txt"
LITELLM_MASTER_KEY = "sk-bench-litellm-master"
UPSTREAM_KEY = "sk-bench-upstream-key"
PASSWORD = "a-long-bench-passphrase-1"


def gateway_environment(data_dir: Path, upstream: str) -> dict[str, str]:
    """Bastion on its embedded default in front of ``upstream``, API keys on; the limits
    are checked on every request but out of the load's reach (a 429 ends a run)."""
    return bastion_environment(data_dir) | {
        "OPENAI_API_BASE_URLS": f"{upstream}/v1",
        "OPENAI_API_KEYS": UPSTREAM_KEY,
        "DEFAULT_USER_ROLE": "user",
        "MODEL_LIST_CACHE_TTL": "1h",
        "ENABLE_API_KEYS": "true",
        "USER_PERMISSIONS_FEATURES_API_KEYS": "true",
        "COSTLY_RATE_LIMIT": "1000000000/1m",
        "API_RATE_LIMIT_KEY": "1000000000/1m",
    }


@contextmanager
def serve(target: str, env: dict[str, str], *options: str) -> Iterator[tuple[str, int]]:
    """``uvicorn --factory target`` (one worker): its base URL and process id."""
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--no-access-log", "--log-level", "warning", "--app-dir",
        str(BENCH_DIR), *options,
    ]  # fmt: skip
    with running(command, env, port) as served:
        yield served


def litellm_unavailable() -> str | None:
    """Why LiteLLM's proxy cannot be measured here, or ``None`` once it is installed.

    It has its own venv: its pins (httpx, pydantic, FastAPI) differ from Bastion's.
    """
    python = LITELLM_VENV / "bin" / "python"
    if not python.exists():
        venv.create(LITELLM_VENV, with_pip=True)
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-r", str(LITELLM_REQUIREMENTS)],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        lines = (done.stderr.strip() or done.stdout.strip()).splitlines()
        return f"pip could not install {LITELLM_REQUIREMENTS.name}: {lines[-1] if lines else ''}"
    return None


@contextmanager
def litellm(upstream: str, models: tuple[str, ...]) -> Iterator[tuple[str, int]]:
    """LiteLLM's proxy (master key, no database) in front of ``upstream``."""
    port = free_port()
    entries = "".join(
        f"  - model_name: {model}\n    litellm_params:\n      model: openai/{model}\n"
        f"      api_base: {upstream}/v1\n      api_key: {UPSTREAM_KEY}\n"
        for model in models
    )
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as config:
        config.write(
            f"model_list:\n{entries}general_settings:\n  master_key: {LITELLM_MASTER_KEY}\n"
        )
        config.flush()
        env = {
            **os.environ, "LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False",
            "NO_DOCS": "True", "DISABLE_ADMIN_UI": "True",
        }  # fmt: skip
        for name in ("DATABASE_URL", "REDIS_URL"):
            env.pop(name, None)
        command = [
            str(LITELLM_VENV / "bin" / "litellm"), "--config", config.name, "--host",
            "127.0.0.1", "--port", str(port), "--num_workers", "1",
        ]  # fmt: skip
        with running(command, env, port) as served:
            yield served


def bastion_callers(base: str, models: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
    """How a browser and a program call Bastion as a plain user granted ``models`` (the
    first account is the admin): the session cookie with its CSRF token and origin, and
    an ``sk-`` API key."""

    def call(path: str, body: object, token: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answer = httpx.post(f"{base}{path}", json=body, headers=headers, timeout=30)
        if not answer.is_success:
            raise BenchError(f"{path} answered {answer.status_code}: {answer.text[:300]}")
        return answer.json()  # type: ignore[no-any-return]

    def signup(email: str) -> dict[str, str]:
        return call("/api/v1/auths/signup", {"name": "Bench", "email": email, "password": PASSWORD})

    admin, user = signup("admin@example.com"), signup("user@example.com")
    for model in models:
        call(f"/api/v1/models/{model}/access", {"user_ids": [user["id"]]}, admin["token"])
    key = call("/api/v1/auths/api_key", {"name": "bench"}, user["token"])["key"]
    browser = {
        "Cookie": f"token={user['token']}",
        "X-CSRF-Token": user["csrf_token"],
        "Origin": base,
    }
    return browser, {"Authorization": f"Bearer {key}"}
