"""TOTP as the gateway applies it: a code is checked against the decrypted secret and
recorded as used in the same transaction, so it is accepted once."""

from __future__ import annotations

from datetime import datetime

from services.gateway.auth import accept_code
from services.gateway.context import GatewayContext
from services.gateway.errors import TwoFactorRequired
from services.gateway.ratelimit import ensure_allowed, totp_subject
from services.gateway.store import accounts
from services.gateway.store.accounts import UserRow
from shared.db import Connection

TOTP_HEADER = "X-TOTP-Code"


def totp_context(user_id: str) -> str:
    """Associated data of a sealed TOTP secret: it opens only as this user's TOTP secret."""
    return f"totp:{user_id}"


class WrongCode(TwoFactorRequired):
    """A code was given but is wrong or replayed: counted as a failed attempt."""


async def use_code(
    conn: Connection, ctx: GatewayContext, user: UserRow, code: str | None, now: datetime
) -> bool:
    """True if 2FA is on and `code` is valid and unused; it is then recorded as used."""
    if code is None or not user.totp_enabled or user.totp_secret is None:
        return False
    secret = ctx.require_secret_box().open(user.totp_secret, context=totp_context(user.user_id))
    counter = accept_code(secret, code, now, user.totp_last_counter)
    return counter is not None and await accounts.use_totp_counter(conn, user.user_id, counter)


async def require_for_money(
    conn: Connection, ctx: GatewayContext, user_id: str, code: str | None, now: datetime
) -> None:
    """Pass only with 2FA enabled and a valid, unused code; otherwise `403 two_factor_required`
    (and the caller's transaction, with everything it would have created, rolls back)."""
    user = await accounts.user_by_id(conn, user_id)
    if user is None or not user.totp_enabled:
        raise TwoFactorRequired("this request needs two-factor authentication enabled")
    if code is None:
        raise TwoFactorRequired(f"this request needs a current code in the {TOTP_HEADER} header")
    await ensure_allowed(conn, [totp_subject(user_id)], now, ctx.attempt_limit)
    if not await use_code(conn, ctx, user, code, now):
        raise WrongCode(f"the {TOTP_HEADER} code is wrong or was used already")
