"""The baseline for bench/throughput.py: FastAPI with nothing added.

``GET /api/v1/auths/`` answers the same JSON shape as Bastion's, from constants, so the
difference between the two figures is what Bastion's security layer and store cost.
"""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()

_USER = {
    "id": "00000000-0000-0000-0000-000000000000",
    "email": "bench@example.com",
    "name": "Bench",
    "role": "admin",
}


@app.get("/api/v1/auths/")
async def current_user() -> dict[str, str]:
    return _USER
