"""A small OpenID provider for the single sign-on tests, run in its own process.

It does what a real one does and checks what a real one checks: discovery, a JWKS of
RSA keys that can rotate, an authorize endpoint with a sign-in form, a token endpoint
enforcing PKCE S256, single-use codes, the registered redirect URI and the client
secret or a client assertion signed with a registered key (``private_key_jwt``, each
``jti`` good once), refresh, and end-session. ``/control/*`` (tests only) sets the
accounts, rotates keys, registers the client's public keys, sets the token endpoint's
advertised authentication methods, spoils the next ID token in a chosen way
(``alg: none``, HS256 with the client secret, a key not in the JWKS, a header naming its
own key, a bad signature, wrong ``iss``/``aud``/``azp``, expired, another nonce, a claim
left out) or the next token answer, and mints back-channel logout tokens.

``start_provider()`` starts it under uvicorn (``python -m uvicorn --factory``) on a free
port of 127.0.0.1 and yields a :class:`ProviderHandle`.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OctKey, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

CLIENT_ID = "bastion"
CLIENT_SECRET = "provider-client-secret-for-tests"
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
AUTH_METHODS = ["client_secret_basic", "private_key_jwt"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Provider:
    def __init__(self, issuer: str, redirect_uris: list[str]) -> None:
        self.issuer = issuer
        self.redirect_uris = redirect_uris
        self.keys: list[RSAKey] = [self._new_key()]
        self.accounts: dict[str, dict[str, Any]] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.refresh_tokens: dict[str, dict[str, Any]] = {}
        self.spoil: dict[str, Any] | None = None
        self.seen: list[dict[str, Any]] = []  # token and end-session requests
        self.auth_methods = list(AUTH_METHODS)
        self.client_keys: KeySet | None = None  # the client's public keys, once registered
        self.assertions_seen: set[str] = set()

    @staticmethod
    def _new_key() -> RSAKey:
        return RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(8), "use": "sig"})

    def sign(self, claims: dict[str, Any], *, key: RSAKey | None = None) -> str:
        key = key or self.keys[0]
        header = {"alg": "RS256", "kid": key.kid, "typ": "JWT"}
        return jwt.encode(header, claims, key)

    # --- endpoints --------------------------------------------------------------------

    async def discovery(self, _: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "end_session_endpoint": f"{self.issuer}/end-session",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                # HS256 and none offered too: the relying party must refuse them itself.
                "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"],
                "token_endpoint_auth_methods_supported": self.auth_methods,
                "code_challenge_methods_supported": ["S256"],
                "backchannel_logout_supported": True,
                "backchannel_logout_session_supported": True,
            }
        )

    async def jwks(self, _: Request) -> Response:
        return JSONResponse({"keys": [key.as_dict(private=False) for key in self.keys]})

    def _bad(self, message: str, status: int = 400) -> Response:
        return JSONResponse({"error": "invalid_request", "error_description": message}, status)

    async def authorize(self, request: Request) -> Response:
        params = dict(request.query_params) if request.method == "GET" else {}
        if request.method == "POST":
            params = {key: str(value) for key, value in (await request.form()).items()}
        if params.get("client_id") != CLIENT_ID:
            return self._bad("unknown client")
        if params.get("redirect_uri") not in self.redirect_uris:
            return self._bad("redirect_uri not registered")
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return self._bad("PKCE S256 required")
        if request.method == "GET":
            return HTMLResponse(_login_form(params))
        username = params.get("username", "")
        if username not in self.accounts:
            return HTMLResponse(_login_form(params, "Unknown user."), status_code=401)
        code = secrets.token_urlsafe(24)
        self.codes[code] = {
            "username": username,
            "redirect_uri": params["redirect_uri"],
            "challenge": params["code_challenge"],
            "nonce": params.get("nonce"),
        }
        query = urlencode({"code": code, "state": params.get("state", "")})
        return RedirectResponse(f"{params['redirect_uri']}?{query}", status_code=302)

    async def token(self, request: Request) -> Response:
        form = {key: str(value) for key, value in (await request.form()).items()}
        authorization = request.headers.get("authorization")
        self.seen.append({"endpoint": "token", "form": form, "authorization": authorization})
        refused = self._client_refused(request, form)
        if refused is not None:
            return JSONResponse({"error": "invalid_client", "error_description": refused}, 401)
        if form.get("grant_type") == "refresh_token":
            grant = self.refresh_tokens.get(form.get("refresh_token", ""))
            if grant is None:
                return JSONResponse({"error": "invalid_grant"}, 400)
            return JSONResponse(self._tokens(grant["username"], None, grant["sid"]))
        if self.spoil is not None and self.spoil["mode"] == "token_body":
            spoil, self.spoil = self.spoil, None
            return Response(spoil["body"], media_type=spoil.get("type", "application/json"))
        grant = self.codes.pop(form.get("code", ""), None)  # single use
        if grant is None:
            return JSONResponse({"error": "invalid_grant", "error_description": "code used"}, 400)
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return JSONResponse({"error": "invalid_grant"}, 400)
        verifier = form.get("code_verifier", "")
        if _b64(hashlib.sha256(verifier.encode()).digest()) != grant["challenge"]:
            return JSONResponse({"error": "invalid_grant", "error_description": "PKCE"}, 400)
        return JSONResponse(self._tokens(grant["username"], grant["nonce"], None))

    def _client_refused(self, request: Request, form: dict[str, str]) -> str | None:
        """Why the caller is not the client, or None when it proved it is."""
        if "client_assertion_type" not in form:
            pair = f"{CLIENT_ID}:{CLIENT_SECRET}".encode()
            if request.headers.get("authorization") == "Basic " + base64.b64encode(pair).decode():
                return None
            posted = (form.get("client_id"), form.get("client_secret"))
            if "client_secret_post" in self.auth_methods and posted == (CLIENT_ID, CLIENT_SECRET):
                return None
            return "client secret"
        if form["client_assertion_type"] != CLIENT_ASSERTION_TYPE or self.client_keys is None:
            return "assertion type or no key registered"
        if "private_key_jwt" not in self.auth_methods or form.get("client_id") != CLIENT_ID:
            return "method not offered or unknown client"
        try:
            token = jwt.decode(
                form.get("client_assertion", ""), self.client_keys, algorithms=["RS256", "ES256"]
            )
        except (JoseError, ValueError):
            return "assertion signature"
        claims, now = token.claims, time.time()
        if claims.get("iss") != CLIENT_ID or claims.get("sub") != CLIENT_ID:
            return "assertion iss or sub"
        if claims.get("aud") != f"{self.issuer}/token":
            return "assertion aud"
        if not isinstance(claims.get("exp"), int) or claims["exp"] < now:
            return "assertion expired"
        jti = claims.get("jti")
        if not isinstance(jti, str) or jti in self.assertions_seen:
            return "assertion jti reused"
        self.assertions_seen.add(jti)
        return None

    def _tokens(self, username: str, nonce: str | None, sid: str | None) -> dict[str, Any]:
        account = self.accounts[username]
        sid = sid or secrets.token_hex(8)
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "sid": sid,
            **account,
        }
        if nonce is not None:
            claims["nonce"] = nonce
        refresh = "rt-" + secrets.token_urlsafe(24)
        self.refresh_tokens[refresh] = {"username": username, "sid": sid}
        issued = {
            "access_token": "at-" + secrets.token_urlsafe(24),
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": self._id_token(claims),
        }
        self.seen.append({"endpoint": "issued", "tokens": issued})
        return issued

    def _id_token(self, claims: dict[str, Any]) -> str:
        spoil, self.spoil = self.spoil, None
        if spoil is None:
            return self.sign(claims)
        mode = spoil["mode"]
        if mode == "claims":
            spoiled = {**claims, **spoil.get("claims", {})}
            for name in spoil.get("without", []):
                spoiled.pop(name, None)
            return self.sign(spoiled)
        if mode == "header":  # a header of the caller's choosing, a signature of nothing
            header = _b64(json.dumps({"alg": "RS256", **spoil["header"]}).encode())
            return f"{header}.{_b64(json.dumps(claims).encode())}.{_b64(b'not-a-signature')}"
        if mode == "bad_signature":
            header, payload, _ = self.sign(claims).split(".")
            return f"{header}.{payload}.{_b64(secrets.token_bytes(256))}"
        if mode == "none":
            header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
            return f"{header}.{_b64(json.dumps(claims).encode())}."
        if mode == "hs256":
            key = OctKey.import_key(CLIENT_SECRET)
            return jwt.encode({"alg": "HS256"}, claims, key, algorithms=["HS256"])
        if mode == "foreign_key":
            foreign = self._new_key()
            return self.sign(claims, key=foreign)
        raise ValueError(mode)

    async def end_session(self, request: Request) -> Response:
        params = dict(request.query_params)
        self.seen.append({"endpoint": "end_session", "params": params})
        return HTMLResponse("<!doctype html><title>Signed out</title><h1>Signed out</h1>")

    # --- control (tests only) -----------------------------------------------------------

    async def control(self, request: Request) -> Response:
        body = await request.json() if request.method == "POST" else {}
        action = request.path_params["action"]
        if action == "accounts":
            self.accounts.update(body)
        elif action == "rotate":
            self.keys.insert(0, self._new_key())
        elif action == "client-keys":
            self.client_keys = KeySet.import_key_set(body)
        elif action == "auth-methods":
            self.auth_methods = body.get("methods", AUTH_METHODS)
        elif action == "spoil":
            self.spoil = body
        elif action == "logout-token":
            now = int(time.time())
            claims: dict[str, Any] = {
                "iss": self.issuer,
                "aud": CLIENT_ID,
                "iat": now,
                "exp": now + 120,
                "jti": secrets.token_hex(8),
                "events": {BACKCHANNEL_EVENT: {}},
                **body.get("claims", {}),
            }
            for name in body.get("without", []):
                claims.pop(name, None)
            return JSONResponse({"logout_token": self.sign(claims)})
        elif action == "seen":
            return JSONResponse(self.seen)
        return JSONResponse({"ok": True})


def _login_form(params: dict[str, str], error: str = "") -> str:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
        if k != "username"
    )
    message = f'<p role="alert">{html.escape(error)}</p>' if error else ""
    return (
        "<!doctype html><html lang=en><title>Test provider</title><h1>Test provider</h1>"
        f'<form method="post" action="/authorize">{hidden}{message}'
        '<label>Username <input name="username" autocomplete="username"></label>'
        "<button type=submit>Continue</button></form></html>"
    )


def app_from_env() -> Starlette:
    provider = Provider(
        os.environ["OIDC_TEST_ISSUER"], os.environ["OIDC_TEST_REDIRECT_URIS"].split(",")
    )
    return Starlette(
        routes=[
            Route("/.well-known/openid-configuration", provider.discovery),
            Route("/jwks", provider.jwks),
            Route("/authorize", provider.authorize, methods=["GET", "POST"]),
            Route("/token", provider.token, methods=["POST"]),
            Route("/end-session", provider.end_session),
            Route("/control/{action}", provider.control, methods=["GET", "POST"]),
        ]
    )


@dataclass
class ProviderHandle:
    issuer: str

    def control(self, action: str, body: Any = None) -> Any:
        answer = httpx.post(f"{self.issuer}/control/{action}", json=body or {}, timeout=10)
        answer.raise_for_status()
        return answer.json()

    def accounts(self, **accounts: dict[str, Any]) -> None:
        self.control("accounts", accounts)

    def seen(self) -> list[dict[str, Any]]:
        return list(self.control("seen"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def start_provider(redirect_uris: list[str]) -> Iterator[ProviderHandle]:
    port = _free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "OIDC_TEST_ISSUER": issuer,
        "OIDC_TEST_REDIRECT_URIS": ",".join(redirect_uris),
    }
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", "--factory", "tests.oidc_provider:app_from_env"),
            *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
        ],
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        for _ in range(500):
            try:
                httpx.get(f"{issuer}/jwks", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None:
                    raise RuntimeError("the test provider exited") from None
                time.sleep(0.02)
        else:
            raise RuntimeError("the test provider did not start")
        yield ProviderHandle(issuer)
    finally:
        process.terminate()
        process.wait(timeout=10)
