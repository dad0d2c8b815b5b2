"""Uploaded files: where they are kept and how large one may be."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bastion.config.reader import EnvReader, file_path
from bastion.config.server import private_dir


@dataclass(frozen=True, slots=True)
class FilesSettings:
    upload_dir: Path
    file_max_size: int  # bytes


def read_files(env: EnvReader, data_dir: Path) -> FilesSettings:
    value = env.text("UPLOAD_DIR", "")
    upload_dir = file_path("UPLOAD_DIR", value) if value else data_dir / "uploads"
    return FilesSettings(
        upload_dir=private_dir("UPLOAD_DIR", upload_dir),
        file_max_size=env.integer("FILE_MAX_SIZE", 25, minimum=1, maximum=100_000) * 1024 * 1024,
    )
