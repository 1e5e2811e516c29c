"""The operator console's sign-in: `POST /v1/admin/session` checks an admin's e-mail, password
and TOTP code exactly as `POST /v1/auth/login` does (`signin.py`) and answers with a session
cookie instead of a token in the body, so the page's script never holds a credential."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response

from services.gateway import auth, console_session
from services.gateway.api.bodies import LoginBody
from services.gateway.api.console_views import ConsoleSession
from services.gateway.api.deps import ClientAddress, Ctx, CurrentAdmin
from services.gateway.api.strict_json import StrictJsonRoute
from services.gateway.errors import Forbidden
from services.gateway.signin import check_credentials, record_sign_in

router = APIRouter(prefix="/v1/admin/session", tags=["admin"], route_class=StrictJsonRoute)


@router.post("")
async def sign_in(
    body: LoginBody, request: Request, response: Response, ctx: Ctx, address: ClientAddress
) -> ConsoleSession:
    """Sign an admin in to the console: `Set-Cookie` of an `HttpOnly`, `SameSite=Strict`
    session (`Secure` over https) for `/v1/admin`. Someone who is not an admin is `403`
    whatever the password; the request must carry `X-Requested-By: console`."""
    console_session.refuse_cross_site(request)
    now = ctx.clock()
    async with ctx.pool.acquire() as conn:
        user = await check_credentials(conn, ctx, body, address, now)
        if user.role is not auth.Role.ADMIN:
            raise Forbidden("the console is for administrators")
        await record_sign_in(conn, ctx, user, address, now)
    token = ctx.tokens.issue(
        auth.Principal(user.user_id, user.role), now, audience=console_session.AUDIENCE
    )
    response.set_cookie(
        console_session.COOKIE,
        token,
        max_age=ctx.tokens.ttl_seconds,
        path=console_session.COOKIE_PATH,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    expires_at = now + timedelta(seconds=ctx.tokens.ttl_seconds)
    return ConsoleSession(user_id=user.user_id, expires_at=expires_at)


@router.get("")
async def current_session(principal: CurrentAdmin) -> ConsoleSession:
    """Who is signed in, and until when (the console asks on load and after a lost stream)."""
    return ConsoleSession(user_id=principal.user_id, expires_at=principal.expires_at)


@router.delete("", status_code=204, response_class=Response)
async def sign_out(request: Request) -> Response:
    """Forget the session cookie (the token itself ends at its expiry)."""
    console_session.refuse_cross_site(request)
    response = Response(status_code=204)
    response.delete_cookie(
        console_session.COOKIE,
        path=console_session.COOKIE_PATH,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return response
