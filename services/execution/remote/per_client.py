"""Work on many orders spread over many venue clients: each client's items one after the other,
several clients at once.

A client (one account's key at one venue) serialises its own calls (ccxt's rate limiter and
the lock in `ccxt_calls`), so a second item on a client that is already busy would only wait
for it while holding a slot another client could use. Slots therefore go to clients, not to
items: no slot ever waits on a busy client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import TypeVar

T = TypeVar("T")


async def each_by_client(
    items: Iterable[T],
    client_of: Callable[[T], Hashable],
    work: Callable[[T], Awaitable[None]],
    *,
    parallel: int,
) -> None:
    """`work(item)` once for every item: one client's items in their given order, one at a
    time; up to `parallel` clients at once. Clients with the most items start first, so the
    longest queues do not end up alone at the end."""
    queues: dict[Hashable, list[T]] = {}
    for item in items:
        queues.setdefault(client_of(item), []).append(item)
    waiting = iter(sorted(queues.values(), key=len, reverse=True))

    async def slot() -> None:
        for queue in waiting:  # shared: each client's queue goes to one slot only
            for item in queue:
                await work(item)

    await asyncio.gather(*(slot() for _ in range(min(parallel, len(queues)))))
