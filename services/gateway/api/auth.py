"""Accounts: register, login (rate-limited, 2FA-aware), TOTP enrolment and confirmation."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from services.gateway import auth
from services.gateway.activity import (
    emit,
    record_failed_attempt,
    two_factor_enabled,
    user_registered,
)
from services.gateway.api.bodies import LoginBody, RegisterBody, TotpCodeBody
from services.gateway.api.deps import ClientAddress, Ctx, CurrentUser
from services.gateway.api.strict_json import StrictJsonRoute
from services.gateway.api.views import (
    AccessToken,
    TwoFactorEnabled,
    TwoFactorEnrollment,
    UserCreated,
)
from services.gateway.errors import (
    EmailTaken,
    NotFound,
    TotpInvalid,
    TwoFactorAlreadyEnabled,
    TwoFactorNotEnrolled,
)
from services.gateway.ratelimit import ensure_allowed, failure_subjects, user_account
from services.gateway.signin import check_credentials, record_sign_in
from services.gateway.store import accounts
from services.gateway.twofactor import totp_context
from shared.ids import new_id

router = APIRouter(prefix="/v1/auth", tags=["auth"], route_class=StrictJsonRoute)


@router.post("/register", status_code=201)
async def register(body: RegisterBody, ctx: Ctx) -> UserCreated:
    password_hash = await asyncio.to_thread(auth.hash_password, body.password.get_secret_value())
    user_id, now = new_id(), ctx.clock()
    async with ctx.pool.acquire() as conn, conn.transaction():
        if not await accounts.insert_user(conn, user_id, body.email, password_hash, auth.Role.USER):
            raise EmailTaken("an account with this e-mail exists")
        await emit(conn, user_id, user_registered(ctx.emitter, user_id, auth.Role.USER.value, now))
    return UserCreated(user_id=user_id)


@router.post("/login")
async def login(body: LoginBody, ctx: Ctx, address: ClientAddress) -> AccessToken:
    now = ctx.clock()
    async with ctx.pool.acquire() as conn:
        user = await check_credentials(conn, ctx, body, address, now)
        await record_sign_in(conn, ctx, user, address, now)
    token = ctx.tokens.issue(auth.Principal(user.user_id, user.role), now)
    return AccessToken(access_token=token, expires_in=ctx.tokens.ttl_seconds)


@router.post("/2fa/enroll")
async def enroll_two_factor(ctx: Ctx, principal: CurrentUser) -> TwoFactorEnrollment:
    box = ctx.require_secret_box()
    async with ctx.pool.acquire() as conn, conn.transaction():
        user = await accounts.user_by_id(conn, principal.user_id, lock=True)
        if user is None:
            raise NotFound("no such user")
        if user.totp_enabled:
            raise TwoFactorAlreadyEnabled("two-factor authentication is already enabled")
        secret = auth.new_totp_secret()
        sealed = box.seal(secret, context=totp_context(user.user_id))
        await accounts.set_pending_totp(conn, user.user_id, sealed)
    return TwoFactorEnrollment(secret=secret, otpauth_uri=auth.provisioning_uri(secret, user.email))


@router.post("/2fa/confirm")
async def confirm_two_factor(
    body: TotpCodeBody, ctx: Ctx, principal: CurrentUser, address: ClientAddress
) -> TwoFactorEnabled:
    box = ctx.require_secret_box()
    now = ctx.clock()
    account = user_account(principal.user_id)
    subjects = failure_subjects(account, address)
    async with ctx.pool.acquire() as conn:
        await ensure_allowed(conn, account, address, now, ctx.attempt_limits)
        async with conn.transaction():
            user = await accounts.user_by_id(conn, principal.user_id, lock=True)
            if user is None:
                raise NotFound("no such user")
            if user.totp_enabled:
                raise TwoFactorAlreadyEnabled("two-factor authentication is already enabled")
            if user.totp_pending_secret is None:
                raise TwoFactorNotEnrolled("enrol first: POST /v1/auth/2fa/enroll")
            pending = user.totp_pending_secret
            secret = box.open(pending, context=totp_context(user.user_id))
            counter = auth.accept_code(secret, body.code, now, None)
            if counter is not None:
                await accounts.enable_totp(conn, user.user_id, pending, counter)
                await emit(conn, user.user_id, two_factor_enabled(ctx.emitter, user.user_id, now))
        if counter is None:
            ctx.metrics.auth_failures.labels("totp_invalid").inc()
            async with conn.transaction():
                await record_failed_attempt(
                    conn, ctx.emitter, subjects, now, user_id=user.user_id, reason="totp_invalid"
                )
            raise TotpInvalid("the code does not match the enrolled secret")
    return TwoFactorEnabled(enabled=True)
