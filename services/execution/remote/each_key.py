"""Every account with a validated key, asked one question at its venue, one after the other.

An answer is handed on with its key; a venue that does not answer (or refuses) is the caller's
to log and count, and the walk goes on with the next key: one venue never stops the others.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import asyncpg

from services.execution.domain.errors import VenueNotReached, VenueOutcomeUnknown, VenueRejected
from services.execution.remote.keys_store import KeyStore, StoredKey

T = TypeVar("T")
Ask = Callable[[StoredKey, int], Awaitable[T]]
"""(key, when it was added in epoch ms) → the venue's answer."""
VENUE_FAILURES: tuple[type[Exception], ...] = (
    VenueRejected,
    VenueOutcomeUnknown,
    VenueNotReached,
)


async def answers(
    pool: asyncpg.Pool,
    ask: Ask[T],
    *,
    skipped: Callable[[StoredKey, Exception], None],
    failures: tuple[type[Exception], ...] = VENUE_FAILURES,
) -> AsyncIterator[tuple[StoredKey, T]]:
    """(key, answer) for each validated key whose `ask` succeeded; `skipped(key, exc)` for each
    one that raised one of `failures` (anything else propagates)."""
    async with pool.acquire() as conn:
        keys = await KeyStore(conn).valid_keys()
    for key, added_ms in keys:
        try:
            answer = await ask(key, added_ms)
        except failures as exc:
            skipped(key, exc)
            continue
        yield key, answer
