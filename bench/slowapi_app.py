"""What a FastAPI user would assemble instead of Bastion, for bench/ratelimit_redis.py.

slowapi (the ``limits`` library underneath) with its Redis storage and the moving-window
strategy, the ``secure`` package's default headers as ASGI middleware, and a bearer JWT
checked with PyJWT. No revocation: slowapi and secure have none to offer.
"""

from __future__ import annotations

import os
from typing import Annotated

import jwt
import secure
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from secure.middleware import SecureASGIMiddleware
from slowapi import Limiter, _rate_limit_exceeded_handler
from slowapi.errors import RateLimitExceeded

SECRET = os.environ["BENCH_JWT_SECRET"]
LIMIT = os.environ.get("BENCH_LIMIT", "1000000000/minute")


def _caller(request: Request) -> str:
    return str(getattr(request.state, "user_id", "anonymous"))


limiter = Limiter(
    key_func=_caller,
    storage_uri=os.environ["BENCH_REDIS_URL"],
    strategy="moving-window",
    headers_enabled=True,
)
app = FastAPI()
app.state.limiter = limiter
app.add_exception_handler(RateLimitExceeded, _rate_limit_exceeded_handler)  # type: ignore[arg-type]
app.add_middleware(SecureASGIMiddleware, secure=secure.Secure.with_default_headers())


async def current_user(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        raise HTTPException(401)
    try:
        claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    except jwt.PyJWTError:
        raise HTTPException(401) from None
    request.state.user_id = claims["sub"]
    return str(claims["sub"])


@app.get("/api/v1/auths/")
@limiter.limit(LIMIT)
async def me(
    request: Request, response: Response, user_id: Annotated[str, Depends(current_user)]
) -> dict[str, str]:
    return {"id": user_id, "email": "bench@example.com", "name": "Bench", "role": "admin"}
