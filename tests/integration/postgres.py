"""A throwaway PostgreSQL 15 cluster for the test session.

The cluster lives in a temporary directory, listens on a free port on 127.0.0.1 only,
trusts local connections, runs without fsync (its data is thrown away) and is stopped and
deleted when the session ends. initdb refuses to run as root, so under root the server
runs as the ``postgres`` system user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")
DATABASE = "bastion_test"
SUPERUSER = "postgres"
START_ATTEMPTS = 3
READY_TIMEOUT_S = 30.0


class PostgresUnavailable(RuntimeError):
    """The throwaway cluster could not be created or started."""


@contextmanager
def throwaway_cluster(database: str = DATABASE) -> Iterator[str]:
    """Start a fresh cluster, create ``database`` in it and yield its URL."""
    for tool in ("initdb", "pg_ctl", "pg_isready", "createdb"):
        if not (PG_BIN / tool).is_file():
            raise PostgresUnavailable(
                f"{PG_BIN / tool} not found: install the Debian package postgresql-15 "
                "(bin/test does)"
            )
    as_user = _server_user()
    # As root the server user must reach the directory, so stay out of root's own TMPDIR.
    base = Path(tempfile.mkdtemp(prefix="bastion-pg-", dir="/tmp" if as_user else None))
    data = base / "data"
    try:
        if as_user:
            os.chown(base, pwd.getpwnam(as_user).pw_uid, pwd.getpwnam(as_user).pw_gid)
        _run(
            as_user,
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            what="initdb",
            cwd=base,
        )
        port = _start(as_user, base, data)
        try:
            _run(
                None,
                [
                    str(PG_BIN / "createdb"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-U",
                    SUPERUSER,
                    database,
                ],
                what="createdb",
                cwd=base,
            )
            yield f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{database}"
        finally:
            _stop(as_user, base, data)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _start(as_user: str | None, base: Path, data: Path) -> int:
    """Start the server on a free port (another port if that one was taken meanwhile)."""
    log = base / "server.log"
    for _ in range(START_ATTEMPTS):
        port = _free_port()
        options = (
            f"-k {base} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        started = subprocess.run(
            _as(
                as_user,
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(log),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    str(int(READY_TIMEOUT_S)),
                    "start",
                ],
            ),
            capture_output=True,
            text=True,
            timeout=READY_TIMEOUT_S + 30,
            check=False,
            cwd=base,
        )
        if started.returncode == 0:
            if _ready(port):
                return port
            _stop(as_user, base, data)
    raise PostgresUnavailable(
        f"PostgreSQL did not start in {base}: {_tail(log) or started.stderr.strip()}"
    )


def _stop(as_user: str | None, base: Path, data: Path) -> None:
    subprocess.run(
        _as(
            as_user,
            [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "-t", "30", "stop"],
        ),
        capture_output=True,
        timeout=60,
        check=False,
        cwd=base,
    )


def _ready(port: int) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        probe = subprocess.run(
            [str(PG_BIN / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)],
            timeout=10,
            check=False,
        )
        if probe.returncode == 0:
            return True
        time.sleep(0.1)
    return False


def _server_user() -> str | None:
    """The user the server must run as: ``postgres`` under root, else the caller."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SUPERUSER)
    except KeyError:
        raise PostgresUnavailable(
            "running as root and there is no 'postgres' system user to run the server; "
            "install the Debian package postgresql-15"
        ) from None
    return SUPERUSER


def _as(user: str | None, command: Sequence[str]) -> list[str]:
    return ["runuser", "-u", user, "--", *command] if user else list(command)


def _run(user: str | None, command: Sequence[str], *, what: str, cwd: Path) -> None:
    # cwd: the server user may not be allowed into the caller's working directory.
    done = subprocess.run(
        _as(user, command), capture_output=True, text=True, timeout=120, check=False, cwd=cwd
    )
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise PostgresUnavailable(f"{what} failed: {detail[-1] if detail else done.returncode}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _tail(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(lines[-3:])
