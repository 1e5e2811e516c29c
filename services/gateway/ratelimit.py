"""Sliding windows that refuse with 429 and say when to retry (`Retry-After`).

* Failed login and 2FA attempts, per account and per client address: after `max_failures`
  failures inside the window a subject is refused until the oldest leaves the window.
* Cancel requests, per account per second (RTS 6 Art. 15(1)(d)): a cap of its own, generous,
  so a cancel storm is refused while cancels are never held back by the order throttle
  (which counts orders at safety and never sees a cancel).
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


def account_subject(email: str) -> str:
    return f"account:{email}"


def address_subject(address: str) -> str:
    return f"address:{address}"


def totp_subject(user_id: str) -> str:
    return f"totp:{user_id}"


def retry_after(
    failures: int, oldest: datetime | None, now: datetime, limit: AttemptLimit
) -> int | None:
    """Seconds until one more attempt is allowed, or None if one is allowed now."""
    if failures < limit.max_failures or oldest is None:
        return None
    return max(1, math.ceil((oldest + limit.window - now).total_seconds()))


async def ensure_allowed(
    conn: Connection, subjects: list[str], now: datetime, limit: AttemptLimit
) -> None:
    """Raise `TooManyAttempts` if any subject is over its limit."""
    waits = []
    for subject in subjects:
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
