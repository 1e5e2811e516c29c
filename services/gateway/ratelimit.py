"""Failed sign-ins and wrong 2FA codes, counted in a sliding window at two places: per
(account, client address) and per client address (API.md, "Throttles on sign-in and 2FA").

A guesser locks out only what it guesses at, from where it guesses: its own address, for
the account it tries (5 in 5 minutes by default), and all of its address only after many
failures (50). Another user behind the same address (an office, a carrier NAT) still signs
in, and failures sent from elsewhere never lock a victim's address. Past a limit a request is
refused (429) until the oldest failure leaves the window; `Retry-After` says when.

Cancel requests are capped per account per second (RTS 6 Art. 15(1)(d)): a cap of its own,
generous, so a cancel storm is refused while cancels are never held back by the order
throttle (which counts orders at safety and never sees a cancel).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.gateway.errors import TooManyAttempts, TooManyCancels
from services.gateway.store import accounts, cancels
from shared.db import Connection


@dataclass(frozen=True)
class AttemptLimit:
    max_failures: int
    window: timedelta


@dataclass(frozen=True)
class AttemptLimits:
    per_account_address: AttemptLimit
    per_address: AttemptLimit


def user_account(user_id: str) -> str:
    """The account a failure counts against: the user, whatever e-mail spelling was typed."""
    return f"user:{user_id}"


def unknown_account(email: str) -> str:
    """A sign-in for an e-mail no user has: counted against the e-mail as typed (normalised)."""
    return f"email:{email}"


def account_address_subject(account: str, address: str) -> str:
    return f"account:{account}|address:{address}"


def address_subject(address: str) -> str:
    return f"address:{address}"


def failure_subjects(account: str, address: str) -> list[str]:
    """Where one failure of `account` from `address` is counted."""
    return [account_address_subject(account, address), address_subject(address)]


def retry_after(
    failures: int, oldest: datetime | None, now: datetime, limit: AttemptLimit
) -> int | None:
    """Seconds until one more attempt is allowed, or None if one is allowed now."""
    if failures < limit.max_failures or oldest is None:
        return None
    return max(1, math.ceil((oldest + limit.window - now).total_seconds()))


async def ensure_allowed(
    conn: Connection, account: str, address: str, now: datetime, limits: AttemptLimits
) -> None:
    """Raise `TooManyAttempts` if `account` at `address`, or `address`, is over its limit."""
    checks = [
        (account_address_subject(account, address), limits.per_account_address),
        (address_subject(address), limits.per_address),
    ]
    waits = []
    for subject, limit in checks:
        failures, oldest = await accounts.recent_failures(conn, subject, now - limit.window)
        wait = retry_after(failures, oldest, now, limit)
        if wait is not None:
            waits.append(wait)
    if waits:
        raise TooManyAttempts(max(waits))


CANCEL_WINDOW = timedelta(seconds=1)


async def admit_cancel(conn: Connection, user_id: str, now: datetime, per_second: int) -> None:
    """Count one cancel request of `user_id` at `now`, or raise `TooManyCancels` if
    `per_second` were already admitted in the last second (a refused one is not counted, so a
    client that keeps hammering gets through again once the window has room)."""
    await cancels.lock_account(conn, user_id)
    admitted, oldest = await cancels.admitted_since(conn, user_id, now - CANCEL_WINDOW)
    wait = retry_after(admitted, oldest, now, AttemptLimit(per_second, CANCEL_WINDOW))
    if wait is not None:
        raise TooManyCancels(per_second, wait)
    await cancels.record(conn, user_id, now)
