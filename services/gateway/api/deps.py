"""Request dependencies: the app's context, the caller (bearer token), the caller's address.

They are `async def` although none awaits: FastAPI runs a plain `def` dependency in the
thread pool, a thread hop (and GIL hand-off) per dependency per request for work that takes
microseconds (an HS256 check included). On the event loop they cost nothing extra.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from services.gateway import console_session
from services.gateway.auth import Principal
from services.gateway.context import GatewayContext
from services.gateway.errors import Forbidden, TokenInvalid, Unauthorized

NO_NUL = r"^[^\x00]+$"
"""Identifiers from the path or query: PostgreSQL cannot hold a NUL, so one is a 422, not a 500."""
_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <access_token>`")
_console = APIKeyCookie(
    name=console_session.COOKIE,
    auto_error=False,
    description="the operator console's session (`POST /v1/admin/session`); admin routes only",
)


async def gateway_context(request: Request) -> GatewayContext:
    context: GatewayContext = request.app.state.gateway
    return context


Ctx = Annotated[GatewayContext, Depends(gateway_context)]


async def current_principal(
    ctx: Ctx,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthorized("an `Authorization: Bearer <token>` header is required")
    if credentials.scheme.lower() != "bearer":
        raise TokenInvalid("the access token is invalid")
    return ctx.tokens.verify(credentials.credentials, ctx.clock())


async def admin_principal(
    request: Request,
    ctx: Ctx,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    session: Annotated[str | None, Depends(_console)],
) -> Principal:
    """The admin named by the bearer token or, without one, by the console's session cookie
    (then only for a request from the console's own origin: `console_session`)."""
    if credentials is not None or session is None:
        principal = await current_principal(ctx, credentials)
    else:
        console_session.refuse_cross_site(request)
        principal = ctx.tokens.verify(session, ctx.clock(), audience=console_session.AUDIENCE)
    if not principal.is_admin:
        raise Forbidden("this endpoint is for administrators")
    return principal


async def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


ResourceId = Annotated[str, Path(pattern=NO_NUL)]
CurrentUser = Annotated[Principal, Depends(current_principal)]
CurrentAdmin = Annotated[Principal, Depends(admin_principal)]
ClientAddress = Annotated[str, Depends(client_address)]
