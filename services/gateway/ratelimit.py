"""Failed login and 2FA attempts, per account and per client address: a sliding window.

After `max_failures` failures inside the window a subject is refused (429) until
the oldest of them leaves the window; `Retry-After` says when.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.gateway.errors import TooManyAttempts
from services.gateway.store import accounts
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
