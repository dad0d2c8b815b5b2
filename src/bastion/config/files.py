"""Uploaded files: where they are kept and how large one may be."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bastion.config.reader import EnvReader
from bastion.config.server import private_dir


@dataclass(frozen=True, slots=True)
class FilesSettings:
    upload_dir: Path
    file_max_size: int  # bytes


def read_files(env: EnvReader, data_dir: Path) -> FilesSettings:
    upload_dir = Path(env.text("UPLOAD_DIR", "") or data_dir / "uploads").expanduser().resolve()
    return FilesSettings(
        upload_dir=private_dir("UPLOAD_DIR", upload_dir),
        file_max_size=env.integer("FILE_MAX_SIZE", 25, minimum=1, maximum=100_000) * 1024 * 1024,
    )
