"""TOTP as the gateway applies it: a code is checked against the decrypted secret and
recorded as used in the same transaction, so it is accepted once.

A wrong code is a guess and counts against the throttle; a code that was valid but is used
already (a double-submitted form, a retry with a new Idempotency-Key) is refused the same way
but is not a guess: the user who sent it knows the secret."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from services.gateway.auth import accept_code, matching_counter
from services.gateway.context import GatewayContext
from services.gateway.errors import TwoFactorRequired
from services.gateway.ratelimit import ensure_allowed, user_account
from services.gateway.store import accounts
from services.gateway.store.accounts import UserRow
from shared.db import Connection

TOTP_HEADER = "X-TOTP-Code"


class CodeCheck(Enum):
    ACCEPTED = "accepted"
    WRONG = "wrong"
    REPLAYED = "replayed"


def totp_context(user_id: str) -> str:
    """Associated data of a sealed TOTP secret: it opens only as this user's TOTP secret."""
    return f"totp:{user_id}"


class WrongCode(TwoFactorRequired):
    """A code was given but is wrong: counted as a failed attempt."""


class ReplayedCode(TwoFactorRequired):
    """A code that was valid but is used already: refused, not counted."""


async def use_code(
    conn: Connection, ctx: GatewayContext, user: UserRow, code: str | None, now: datetime
) -> CodeCheck:
    """ACCEPTED if 2FA is on and `code` is valid and unused (it is then recorded as used),
    REPLAYED if it is valid but used already (also by a concurrent request), else WRONG."""
    if code is None or not user.totp_enabled or user.totp_secret is None:
        return CodeCheck.WRONG
    secret = ctx.require_secret_box().open(user.totp_secret, context=totp_context(user.user_id))
    counter = accept_code(secret, code, now, user.totp_last_counter)
    if counter is None:
        replayed = matching_counter(secret, code, now) is not None
        return CodeCheck.REPLAYED if replayed else CodeCheck.WRONG
    if not await accounts.use_totp_counter(conn, user.user_id, counter):
        return CodeCheck.REPLAYED
    return CodeCheck.ACCEPTED


async def require_for_money(
    conn: Connection,
    ctx: GatewayContext,
    user_id: str,
    code: str | None,
    now: datetime,
    address: str,
) -> None:
    """Pass only with 2FA enabled and a valid, unused code; otherwise `403 two_factor_required`
    (and the caller's transaction, with everything it would have created, rolls back)."""
    user = await accounts.user_by_id(conn, user_id)
    if user is None or not user.totp_enabled:
        raise TwoFactorRequired("this request needs two-factor authentication enabled")
    if code is None:
        raise TwoFactorRequired(f"this request needs a current code in the {TOTP_HEADER} header")
    await ensure_allowed(conn, user_account(user_id), address, now, ctx.attempt_limits)
    check = await use_code(conn, ctx, user, code, now)
    # One answer for both: it does not tell a guesser which of its codes were once right.
    if check is CodeCheck.REPLAYED:
        raise ReplayedCode(f"the {TOTP_HEADER} code is wrong or was used already")
    if check is CodeCheck.WRONG:
        raise WrongCode(f"the {TOTP_HEADER} code is wrong or was used already")
