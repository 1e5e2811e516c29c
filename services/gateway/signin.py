"""Signing in: the one password and TOTP check behind `POST /v1/auth/login` and the console's
`POST /v1/admin/session`, with the throttles of API.md ("Throttles on sign-in and 2FA").

A failed attempt is recorded before the error leaves; a success clears the (account, address)
failures and emits `LoginSucceeded` for the audit trail.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from services.gateway import auth
from services.gateway.activity import emit, login_succeeded, record_failed_attempt
from services.gateway.api.bodies import LoginBody
from services.gateway.context import GatewayContext
from services.gateway.errors import InvalidCredentials, TotpRequired
from services.gateway.ratelimit import (
    account_address_subject,
    ensure_allowed,
    failure_subjects,
    unknown_account,
    user_account,
)
from services.gateway.store import accounts
from services.gateway.store.accounts import UserRow
from services.gateway.twofactor import CodeCheck, use_code
from shared.db import Connection


async def check_credentials(
    conn: Connection, ctx: GatewayContext, body: LoginBody, address: str, now: datetime
) -> UserRow:
    """The user whose e-mail, password and (when 2FA is on) unused TOTP code these are;
    `InvalidCredentials`, `TotpRequired` or `TooManyAttempts` otherwise."""
    user = await accounts.user_by_email(conn, body.email)
    account = user_account(user.user_id) if user is not None else unknown_account(body.email)
    await ensure_allowed(conn, account, address, now, ctx.attempt_limits)
    subjects = failure_subjects(account, address)
    password = body.password.get_secret_value()
    stored_hash = user.password_hash if user is not None else None
    if user is None or not await asyncio.to_thread(auth.verify_password, stored_hash, password):
        ctx.metrics.auth_failures.labels("invalid_credentials").inc()
        async with conn.transaction():
            user_id = user.user_id if user is not None else None
            await record_failed_attempt(
                conn, ctx.emitter, subjects, now, user_id=user_id, reason="invalid_credentials"
            )
        raise InvalidCredentials("wrong e-mail or password")
    if user.totp_enabled:
        if body.totp_code is None:
            raise TotpRequired("two-factor authentication is on: send `totp_code`")
        async with conn.transaction():
            check = await use_code(conn, ctx, user, body.totp_code, now)
        if check is CodeCheck.WRONG:
            ctx.metrics.auth_failures.labels("totp_invalid").inc()
            async with conn.transaction():
                await record_failed_attempt(
                    conn, ctx.emitter, subjects, now, user_id=user.user_id, reason="totp_invalid"
                )
        if check is not CodeCheck.ACCEPTED:
            raise TotpRequired("the two-factor code is wrong or was used already")
    return user


async def record_sign_in(
    conn: Connection, ctx: GatewayContext, user: UserRow, address: str, now: datetime
) -> None:
    """Clear the account's failures from this address and tell the audit trail."""
    async with conn.transaction():
        account = account_address_subject(user_account(user.user_id), address)
        await accounts.clear_failures(conn, account)
        await emit(conn, user.user_id, login_succeeded(ctx.emitter, user.user_id, now))
