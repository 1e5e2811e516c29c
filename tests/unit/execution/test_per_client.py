from __future__ import annotations

import asyncio
from collections import Counter

from services.execution.remote.per_client import each_by_client


class Clients:
    """Records what the work saw: calls in flight per client and overall, and the order."""

    def __init__(self) -> None:
        self.busy: Counter[str] = Counter()
        self.most_at_once = 0
        self.overlap_on_one_client = False
        self.done: list[tuple[str, int]] = []

    async def work(self, item: tuple[str, int]) -> None:
        client = item[0]
        if self.busy[client]:
            self.overlap_on_one_client = True
        self.busy[client] += 1
        self.most_at_once = max(self.most_at_once, sum(self.busy.values()))
        await asyncio.sleep(0)  # let the other slots run meanwhile
        await asyncio.sleep(0)
        self.busy[client] -= 1
        self.done.append(item)


async def test_each_item_once_and_one_clients_items_one_after_the_other_in_order() -> None:
    items = [(client, n) for client in "abcdefg" for n in range(5)]
    items = items[::2] + items[1::2]  # runs of one client's items, mixed with the others
    clients = Clients()

    await each_by_client(items, lambda i: i[0], clients.work, parallel=3)

    assert sorted(clients.done) == sorted(items)
    assert not clients.overlap_on_one_client
    for client in "abcdefg":
        given = [n for c, n in items if c == client]
        assert [n for c, n in clients.done if c == client] == given
    assert clients.most_at_once == 3


async def test_a_slot_never_waits_on_a_busy_client() -> None:
    """Two slots, client a first in line with two items: b must run while a is busy."""
    b_started = asyncio.Event()
    seen: list[str] = []

    async def work(item: tuple[str, int]) -> None:
        seen.append(f"{item[0]}{item[1]}")
        if item[0] == "a":
            await asyncio.wait_for(b_started.wait(), timeout=2)  # a's client answers after b
        else:
            b_started.set()

    await each_by_client([("a", 1), ("a", 2), ("b", 1)], lambda i: i[0], work, parallel=2)

    assert seen == ["a1", "b1", "a2"]


async def test_nothing_to_do_is_done_at_once() -> None:
    clients = Clients()
    await each_by_client([], lambda i: i[0], clients.work, parallel=16)
    assert clients.done == []
