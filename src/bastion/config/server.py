"""Where Bastion runs: its data directory, database, listening address and workers."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bastion.config.reader import EnvReader, SettingsError, file_path

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


@dataclass(frozen=True, slots=True)
class ServerSettings:
    data_dir: Path
    database_url: str
    max_request_body_size: int
    enable_api_docs: bool
    host: str
    port: int
    workers: int
    log_level: str
    # open-webui's: settings changed at run time outlive a restart; false, the
    # environment wins at every start.
    enable_persistent_config: bool


def read_server(env: EnvReader) -> ServerSettings:
    data_dir = private_dir("DATA_DIR", file_path("DATA_DIR", env.text("DATA_DIR", "./data")))
    return ServerSettings(
        data_dir=data_dir,
        database_url=_database_url(env, data_dir),
        max_request_body_size=env.size("MAX_REQUEST_BODY_SIZE", "1MiB"),
        enable_api_docs=env.flag("ENABLE_API_DOCS", False),
        host=env.text("HOST", "127.0.0.1"),
        port=env.integer("PORT", 8080, minimum=1, maximum=65535),
        workers=env.integer("WORKERS", 1, minimum=1, maximum=64),
        log_level=env.choice("GLOBAL_LOG_LEVEL", "info", LOG_LEVELS),
        enable_persistent_config=env.flag("ENABLE_PERSISTENT_CONFIG", True),
    )


def private_dir(variable: str, path: Path) -> Path:
    """Create ``path`` 0700, or tighten it to 0700: it holds secrets and users' data."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if path.stat().st_mode & 0o077:
            path.chmod(0o700)
    except OSError as exc:
        raise SettingsError(
            variable,
            f"{path} cannot be created ({exc.strerror})",
            f"point {variable} at a writable directory",
        ) from None
    if not os.access(path, os.W_OK):
        raise SettingsError(variable, f"{path} is not writable", "fix its owner or permissions")
    return path


def _database_url(env: EnvReader, data_dir: Path) -> str:
    value = env.optional("DATABASE_URL")
    if value is None:
        return f"sqlite:///{data_dir / 'bastion.db'}"
    scheme = value.split(":", 1)[0].lower()
    if scheme.startswith("postgres") or scheme.startswith("sqlite"):
        return value
    raise SettingsError(
        "DATABASE_URL",
        f"the scheme {scheme!r} is not supported",
        "use postgresql://user:password@host/db or sqlite:///path",
    )
