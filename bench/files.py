"""Upload and download throughput of ``/api/v1/files`` against plain file I/O, same run.

Bastion runs in-process (ASGI, no network) on a fresh DATA_DIR; one verified user
uploads a 16 MiB file (multipart, streamed into UPLOAD_DIR, hashed, type-sniffed) and
downloads it again, several times. The baseline writes and reads the same bytes with
plain ``open()`` in the same directory. Ratios are baseline time / Bastion time.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bastion.app import create_app, prepare
from bastion.auth.passwords import PasswordHasher
from bastion.config import load_settings
from bastion.services import Services

SIZE = 16 * 1024 * 1024
ROUNDS = 5
SIGNUP = {"name": "Bench", "email": "bench@example.com", "password": "a-long-bench-passphrase-1"}


def _plain(directory: Path, payload: bytes) -> tuple[float, float]:
    path = directory / "baseline.bin"
    start = time.perf_counter()
    with path.open("wb") as handle:
        for offset in range(0, len(payload), 65536):
            handle.write(payload[offset : offset + 65536])
        handle.flush()
        os.fsync(handle.fileno())
    written = time.perf_counter()
    with path.open("rb") as handle:
        while handle.read(65536):
            pass
    read = time.perf_counter()
    path.unlink()
    return written - start, read - written


async def _measure() -> dict[str, float]:
    payload = os.urandom(SIZE)
    with tempfile.TemporaryDirectory() as data_dir:
        settings = load_settings({"DATA_DIR": data_dir, "FILE_MAX_SIZE": "32"})
        services = Services.build(settings, hasher=PasswordHasher(time_cost=1, memory_cost=1024))
        await prepare(services)
        app = create_app(settings, services=services)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench"
        ) as client:
            token = (await client.post("/api/v1/auths/signup", json=SIGNUP)).json()["token"]
            headers = {"Authorization": f"Bearer {token}"}
            uploads, downloads, plain_writes, plain_reads = [], [], [], []
            for _ in range(ROUNDS):
                start = time.perf_counter()
                response = await client.post(
                    "/api/v1/files/",
                    files={"file": ("bench.bin", payload, "application/octet-stream")},
                    headers=headers,
                )
                uploaded = time.perf_counter()
                file_id = response.json()["id"]
                body = await client.get(f"/api/v1/files/{file_id}/content", headers=headers)
                downloaded = time.perf_counter()
                assert len(body.content) == SIZE
                await client.delete(f"/api/v1/files/{file_id}", headers=headers)
                uploads.append(uploaded - start)
                downloads.append(downloaded - uploaded)
                write, read = _plain(settings.files.upload_dir, payload)
                plain_writes.append(write)
                plain_reads.append(read)
        await services.web_fetch.aclose()
        await services.gateway.aclose()
        await services.db.dispose()
    mib = SIZE / (1024 * 1024)
    upload, download = statistics.median(uploads), statistics.median(downloads)
    write, read = statistics.median(plain_writes), statistics.median(plain_reads)
    return {
        "upload_mib_s": mib / upload,
        "plain_write_mib_s": mib / write,
        "upload_ratio": write / upload,
        "download_mib_s": mib / download,
        "plain_read_mib_s": mib / read,
        "download_ratio": read / download,
    }


def main() -> dict[str, float]:
    figures = asyncio.run(_measure())
    print(
        f"upload:   {figures['upload_mib_s']:7.1f} MiB/s through Bastion, "
        f"{figures['plain_write_mib_s']:7.1f} MiB/s plain write, "
        f"ratio {figures['upload_ratio']:.2f}"
    )
    print(
        f"download: {figures['download_mib_s']:7.1f} MiB/s through Bastion, "
        f"{figures['plain_read_mib_s']:7.1f} MiB/s plain read, "
        f"ratio {figures['download_ratio']:.2f}"
    )
    return figures


if __name__ == "__main__":
    main()
