"""``deploy/run.sh`` with a stand-in ``docker`` on PATH that records its arguments: the
secret key is checked before anything is built, and the base image is always pinned by
digest."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

RUN_SH = Path(__file__).resolve().parents[3] / "deploy" / "run.sh"
KEY = "k" * 48
DIGEST = "sha256:" + "ab" * 32

FAKE_DOCKER = """#!/bin/sh
echo "$*" >> "$DOCKER_LOG"
case "$1 $2" in
    "buildx imagetools") echo "\\"$FAKE_DIGEST\\"" ;;
    "inspect "*) exit 1 ;;
esac
exit 0
"""


def _run(tmp_path: Path, env_text: str, **env: str) -> tuple[subprocess.CompletedProcess[str], str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(0o755)
    env_file = tmp_path / "bastion.env"
    env_file.write_text(env_text)
    env_file.chmod(0o600)
    log = tmp_path / "docker.log"
    log.write_text("")
    result = subprocess.run(
        ["bash", str(RUN_SH)],
        env={
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "BASTION_ENV_FILE": str(env_file),
            "DOCKER_LOG": str(log),
            "FAKE_DIGEST": DIGEST,
            **env,
        },
        capture_output=True,
        text=True,
        check=False,
    )
    return result, log.read_text()


@pytest.mark.parametrize("key", ["", "changeme", "t0p-s3cr3t", "short"])
def test_a_missing_default_or_short_key_stops_it_before_any_build(tmp_path: Path, key: str) -> None:
    result, docker = _run(tmp_path, f"WEBUI_SECRET_KEY={key}\n")
    assert result.returncode == 1
    assert result.stderr.startswith("run.sh: ") and "WEBUI_SECRET_KEY" in result.stderr
    assert docker == ""


def test_the_all_zero_digest_is_resolved_to_the_current_one_and_printed(tmp_path: Path) -> None:
    result, docker = _run(tmp_path, f"WEBUI_SECRET_KEY={KEY}\n")
    assert result.returncode == 0, result.stderr
    pinned = f"python:3.11-slim-bookworm@{DIGEST}"
    assert f"building on {pinned}" in result.stderr
    [build] = [line for line in docker.splitlines() if line.startswith("build ")]
    assert f"--build-arg PYTHON_IMAGE={pinned}" in build
    assert "WEBUI_SECRET_KEY" not in docker and KEY not in docker  # never on a command line


def test_a_base_image_without_a_digest_is_refused(tmp_path: Path) -> None:
    result, docker = _run(
        tmp_path, f"WEBUI_SECRET_KEY={KEY}\n", PYTHON_IMAGE="python:3.11-slim-bookworm"
    )
    assert result.returncode == 1
    assert "is not pinned by digest" in result.stderr
    assert "build " not in docker


def test_a_given_digest_is_built_as_given(tmp_path: Path) -> None:
    given = "python:3.11-slim-bookworm@sha256:" + "cd" * 32
    result, docker = _run(tmp_path, f"WEBUI_SECRET_KEY={KEY}\n", PYTHON_IMAGE=given)
    assert result.returncode == 0, result.stderr
    assert f"--build-arg PYTHON_IMAGE={given}" in docker
    assert "imagetools" not in docker
