"""The ``bastion`` command: configuration errors, version, create-admin, serve."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support import PASSWORD


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    keep = {
        name: value
        for name, value in os.environ.items()
        if name in {"PATH", "HOME", "LANG"} or name.startswith("COVERAGE_")  # measured too
    }
    return {**keep, "DATA_DIR": str(tmp_path / "data"), **extra}


def _bastion(
    *args: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bastion", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_bad_setting_stops_the_start_with_one_line_and_exit_2(tmp_path: Path) -> None:
    result = _bastion("serve", env=_env(tmp_path, WEBUI_SECRET_KEY="t0p-s3cr3t"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("bastion: WEBUI_SECRET_KEY: ")
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_unparsable_duration_stops_the_start(tmp_path: Path) -> None:
    result = _bastion("serve", env=_env(tmp_path, JWT_EXPIRES_IN="a week"))
    assert result.returncode == 2
    assert result.stderr.startswith("bastion: JWT_EXPIRES_IN: ")
    assert "Traceback" not in result.stderr


def test_version(tmp_path: Path) -> None:
    from bastion import __version__

    result = _bastion("--version", env=_env(tmp_path))
    assert result.returncode == 0
    assert result.stdout.strip() == f"bastion {__version__}"


def test_create_admin_refuses_a_common_password_without_traceback(tmp_path: Path) -> None:
    result = _bastion(
        "create-admin",
        "--email",
        "root@example.com",
        "--password-stdin",
        env=_env(tmp_path),
        stdin="password123\n",
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "common" in result.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_answers_health_and_ready_and_signs_in_the_created_admin(tmp_path: Path) -> None:
    env = _env(tmp_path)
    created = _bastion(
        "create-admin",
        "--email",
        "Root@Example.com",
        "--password-stdin",
        env=env,
        stdin=PASSWORD + "\n",
    )
    assert created.returncode == 0, created.stderr
    with _serving(env, tmp_path / "serve.log") as base:
        health = httpx.get(f"{base}/health", timeout=5)
        assert health.status_code == 200 and health.json() == {"status": True}
        assert "server" not in health.headers
        ready = httpx.get(f"{base}/ready", timeout=5)
        assert ready.status_code == 200 and ready.json()["database"] == "ok"
        signin = httpx.post(
            f"{base}/api/v1/auths/signin",
            json={"email": "root@example.com", "password": PASSWORD},
            timeout=10,
        )
        assert signin.status_code == 200 and signin.json()["role"] == "admin"


@contextmanager
def _serving(env: dict[str, str], log_path: Path, *args: str) -> Iterator[str]:
    """``bastion serve`` on a free port; yields its base URL once it answers."""
    port = _free_port()
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "bastion", "serve", "--port", str(port), *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"{base}/health", timeout=1)
                    break
                except httpx.TransportError:
                    assert server.poll() is None, log_path.read_text()
                    assert time.monotonic() < deadline, "bastion serve did not start in 30 s"
                    time.sleep(0.1)
            yield base
        finally:
            server.terminate()
            server.wait(timeout=15)


def test_serve_with_workers_and_no_redis_says_limits_are_per_process(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with _serving(_env(tmp_path), log, "--workers", "2"):
        pass
    assert "2 workers without REDIS_URL: rate limits are per process" in log.read_text()


def test_two_serve_processes_on_one_redis_share_revocations_and_limits(
    tmp_path: Path, redis_url: str
) -> None:
    env = _env(tmp_path, REDIS_URL=redis_url, API_RATE_LIMIT_USER="6/1m")
    with (
        _serving(env, tmp_path / "a.log", "--workers", "2") as first,
        _serving(env, tmp_path / "b.log") as second,
    ):
        signup = httpx.post(
            f"{first}/api/v1/auths/signup",
            json={"name": "A", "email": "a@example.com", "password": PASSWORD},
            timeout=10,
        )
        token = signup.json()["token"]
        other = httpx.post(
            f"{second}/api/v1/auths/signin",
            json={"email": "a@example.com", "password": PASSWORD},
            timeout=10,
        ).json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{second}/api/v1/auths/", headers=bearer, timeout=5).status_code == 200
        signout = httpx.post(f"{first}/api/v1/auths/signout", headers=bearer, timeout=5)
        assert signout.status_code == 200
        refused = httpx.get(f"{second}/api/v1/auths/", headers=bearer, timeout=5)
        assert refused.status_code == 401 and refused.json()["code"] == "token_revoked"
        # Six authenticated requests a minute for the account (three made above, the
        # refused one included), whichever process or worker answers.
        statuses = [
            httpx.get(
                f"{base}/api/v1/auths/", headers={"Authorization": f"Bearer {other}"}, timeout=5
            ).status_code
            for base in (first, second) * 3
        ]
        assert statuses == [200, 200, 200, 429, 429, 429]
    assert "rate limits, revocations and lockouts are global" in (tmp_path / "a.log").read_text()


def test_out_of_range_port_is_a_usage_error_with_exit_2(tmp_path: Path) -> None:
    result = _bastion("serve", "--port", "99999", env=_env(tmp_path))
    assert result.returncode == 2
    assert "argument --port: 99999 is out of range, use 1 to 65535" in result.stderr
    assert "Traceback" not in result.stderr


def test_create_admin_without_a_terminal_refuses_in_one_line(tmp_path: Path) -> None:
    result = _bastion("create-admin", "--email", "x@example.com", env=_env(tmp_path), stdin="")
    assert result.returncode == 2
    assert result.stderr == (
        "bastion: no terminal to ask for the password; "
        "use --password-file PATH or --password-stdin\n"
    )


def test_create_admin_reads_the_password_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\nignored second line\n")
    env = _env(tmp_path)
    result = _bastion(
        "create-admin", "--email", "x@example.com", "--password-file", str(secret), env=env
    )
    assert result.returncode == 0, result.stderr
    with _serving(env, tmp_path / "serve.log") as base:
        signin = httpx.post(
            f"{base}/api/v1/auths/signin",
            json={"email": "x@example.com", "password": PASSWORD},
            timeout=10,
        )
        assert signin.status_code == 200 and signin.json()["role"] == "admin"


def test_create_admin_names_a_missing_password_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = _bastion(
        "create-admin",
        "--email",
        "x@example.com",
        "--password-file",
        str(missing),
        env=_env(tmp_path),
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"bastion: cannot read the password file {missing}: ")
    assert len(result.stderr.splitlines()) == 1


def test_first_start_says_where_data_and_the_generated_key_are(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with _serving(_env(tmp_path), log):
        pass
    text = log.read_text()
    data = (tmp_path / "data").resolve()
    assert f"data: {data} (database, audit log, uploads)" in text
    assert (
        f"secret key: WEBUI_SECRET_KEY is unset, so a new one was generated and saved to "
        f"{data / '.webui_secret_key'} (mode 0600)"
    ) in text
    assert "No model upstream is configured" in text
    with _serving(_env(tmp_path), log):
        pass
    again = log.read_text()
    assert f"secret key: from {data / '.webui_secret_key'}" in again
    assert "a new one was generated" not in again
