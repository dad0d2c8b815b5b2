"""FastAPI dependencies: the services, the caller, and the role guards.

Kept shallow on purpose: every level of ``Depends`` costs on every request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

from fastapi import Depends, Request, Response

from bastion.auth.api_keys import looks_like_api_key
from bastion.auth.authenticate import Credential, Principal, RouteLimit, read_credential
from bastion.auth.permissions import Permission, PermissionDenied
from bastion.auth.rbac import require_role
from bastion.config import Settings
from bastion.config.reader import RateLimit
from bastion.errors import BastionError, InvalidCredentials, NotAuthenticated, NotFound
from bastion.gateway.upstreams import InvalidCompletionRequest
from bastion.jsondata import InvalidJSON, parse_json
from bastion.services import Services
from bastion.store.users import UserRecord


def client_ip(request: Request) -> str:
    """The caller's address as the proxy layer established it (FORWARDED_ALLOW_IPS)."""
    client = request.scope.get("client")
    return str(client[0]) if client else "unknown"


async def hit_limit(
    services: Services,
    request: Request,
    response: Response,
    name: str,
    items: Sequence[tuple[RateLimit, str]],
    **who: Any,
) -> None:
    """Count one hit under every ``(limit, key)`` (429 when one is full) and tell the
    caller where it stands: the decision's ``RateLimit-*`` headers go on ``response``."""
    decision = await services.limiter.hit(name, items, scope=request.scope, **who)
    response.headers.update(decision.headers())


async def confirm_password(
    services: Services, request: Request, response: Response, user: UserRecord, password: str
) -> None:
    """Refuse (400 ``invalid_credentials``) unless ``password`` is ``user``'s own.

    For changes a stolen session must not make alone; guessing with one costs a hash a
    try, within the password-change limit.
    """
    await hit_limit(
        services,
        request,
        response,
        "password_change",
        [(services.settings.ratelimit.password_change_rate_limit, f"password:{user.id}")],
        user_id=user.id,
    )
    if not (await services.hasher.verify_async(password, user.password_hash)).ok:
        raise InvalidCredentials("The password is incorrect.")


async def known_users(services: Services, user_ids: list[str]) -> list[str]:
    """``user_ids`` without repeats, each an existing account (404 for one that is not)."""
    unique = list(dict.fromkeys(user_ids))
    for user_id in unique:
        if await services.users.get(user_id) is None:
            raise NotFound("No such user.")
    return unique


async def require_permission(
    services: Services, request: Request, principal: Principal, permission: Permission
) -> None:
    """Refuse (403 ``permission_denied``, a security event) unless the caller holds it."""
    if not await services.permissions.holds(principal, permission):
        services.events.record(
            "permission.denied",
            outcome="denied",
            scope=request.scope,
            actor=principal,
            permission=permission,
        )
        raise PermissionDenied(permission)


async def get_services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


async def current_principal(request: Request) -> Principal:
    """The authenticated caller, any role (pending accounts included)."""
    # The request's state as a dict (the audit middleware reads the caller there too):
    # ``getattr(request.state, ...)`` raises and catches an exception on every miss.
    principal: Principal | None = request.scope.get("state", {}).get("principal")
    if principal is not None:
        return principal
    credential = read_credential(request.scope["headers"])
    if credential is None:
        raise NotAuthenticated
    return await principal_of(request, credential)


async def limited_principal(request: Request, route: RouteLimit) -> Principal:
    """As :func:`current_principal`, with one hit of the route's own limit counted in the
    authentication's round trip (429 when it is full)."""
    principal: Principal | None = request.scope.get("state", {}).get("principal")
    if principal is not None:  # authenticated earlier in the request
        services: Services = request.app.state.services
        return await services.authenticator.limit_route(principal, route, request.scope)
    credential = read_credential(request.scope["headers"])
    if credential is None:
        raise NotAuthenticated
    return await principal_of(request, credential, route)


async def principal_of(
    request: Request, credential: Credential, route: RouteLimit | None = None
) -> Principal:
    """The caller ``credential`` (read from ``request``) authenticates, kept for the
    request's later looks."""
    services: Services = request.app.state.services
    raw_path: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
    try:
        principal = await services.authenticator.authenticate(
            credential, raw_path.decode("latin-1").split("?", 1)[0], request.scope, route
        )
    except BastionError as refused:
        if looks_like_api_key(credential.value):
            services.events.record(
                "api_key.denied", outcome="denied", scope=request.scope, reason=refused.code
            )
        raise
    if services.settings.mfa.require_mfa != "off" and not _enrolment_path(request.scope["path"]):
        await services.mfa.enforce(principal.user)
    request.scope.setdefault("state", {})["principal"] = principal
    return principal


# What an account the policy holds to a second factor may reach before it has one: the
# session check, signing out, and setting the factor up (pages: web/templating.py).
_ENROLMENT_PATHS = ("/api/v1/auths/mfa/", "/settings/security")
_ENROLMENT_EXACT = frozenset({"/api/v1/auths/", "/api/v1/auths/signout", "/api/v1/auths/mfa"})


def _enrolment_path(path: str) -> bool:
    return path in _ENROLMENT_EXACT or path.startswith(_ENROLMENT_PATHS)


async def verified_user(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    return require_role(principal, ("user", "admin"))


async def admin_user(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    return require_role(principal, ("admin",))


def route_headers(principal: Principal) -> dict[str, str]:
    """The ``RateLimit-*`` headers of the caller's standing on the route's own limit."""
    return {} if principal.route_limit is None else principal.route_limit.headers()


def rate_limited(
    name: str, limit_of: Callable[[Settings], RateLimit]
) -> Callable[..., Awaitable[Principal]]:
    """A dependency limiting a route per API key (when called with one) or per user,
    verified users only.

    For routes that cost real money or compute: ``Depends(rate_limited("name",
    lambda s: s.ratelimit.some_limit))``; a direct route passes a
    :class:`~bastion.auth.authenticate.RouteLimit` to ``limited_principal`` itself.
    """

    async def dependency(request: Request, response: Response) -> Principal:
        services: Services = request.app.state.services
        route = RouteLimit(name, limit_of(services.settings))
        principal = require_role(await limited_principal(request, route), ("user", "admin"))
        response.headers.update(route_headers(principal))
        return principal

    return dependency


ServicesDep = Annotated[Services, Depends(get_services)]
AnyRole = Annotated[Principal, Depends(current_principal)]
VerifiedUser = Annotated[Principal, Depends(verified_user)]
AdminUser = Annotated[Principal, Depends(admin_user)]


async def json_object(request: Request) -> dict[str, Any]:
    """The body of a model request: a JSON object, or the gateway's 400."""
    try:
        body = parse_json(await request.body())
    except InvalidJSON as exc:
        raise InvalidCompletionRequest(exc.detail) from None
    if not isinstance(body, dict):
        raise InvalidCompletionRequest
    return body
