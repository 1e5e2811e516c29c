"""The console's live order list: server-sent events of every account's newest orders.

Each tick re-reads the newest `limit` matching orders (an index scan backwards on `seq`: a
fixed, small cost per open console, nothing added to the order path) and sends those that
are new or changed since the last tick. Re-reading the newest orders rather than "after the
last seq seen" also catches an order whose transaction committed after a later-numbered one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime

from services.gateway.api.console_views import AdminOrderView
from services.gateway.store import orders
from services.gateway.store.orders import OrderFilter, OrderRow
from shared.db import ConnectionPool

RETRY_MS = 1000
"""How soon a browser's EventSource reconnects after the stream ends."""


@dataclass
class OrderWatch:
    """What one console has been sent: each order's last sent state."""

    matching: OrderFilter
    limit: int
    sent: dict[str, tuple[object, ...]] = field(default_factory=dict)

    def changed(self, rows: list[OrderRow]) -> list[OrderRow]:
        """The rows not sent yet in this state, oldest first; remembers them as sent."""
        fresh = []
        for row in sorted(rows, key=lambda r: r.seq):
            state = (row.status, row.updated_at, row.filled_amount, row.reject_reason)
            if self.sent.get(row.order_id) != state:
                self.sent[row.order_id] = state
                fresh.append(row)
        if len(self.sent) > 4 * self.limit:
            keep = {row.order_id for row in rows}
            self.sent = {k: v for k, v in self.sent.items() if k in keep}
        return fresh


def event(name: str, data: str, event_id: str | None = None) -> bytes:
    lines = [f"event: {name}"] + ([f"id: {event_id}"] if event_id else [])
    lines += [f"data: {part}" for part in data.splitlines() or [""]]
    return ("\n".join(lines) + "\n\n").encode()


async def order_events(
    pool: ConnectionPool,
    watch: OrderWatch,
    *,
    until: datetime,
    clock: Callable[[], datetime],
    poll_seconds: float,
    keepalive_seconds: float = 15.0,
) -> AsyncIterator[bytes]:
    """`order` events (one `AdminOrderView` each) for the newest matching orders, then a
    `ready` event, then each new or changed one as it happens, until `until` (the session's
    end or the stream's longest life); the browser then reconnects and starts again."""
    yield f"retry: {RETRY_MS}\n\n".encode()
    first = True
    quiet = 0.0
    while clock() < until:
        async with pool.acquire() as conn:
            rows = await orders.newest_orders(conn, watch.matching, watch.limit)
        for row in watch.changed(rows):
            view = AdminOrderView.of(row)
            yield event("order", view.model_dump_json(), str(row.seq))
            quiet = 0.0
        if first:
            yield event("ready", json.dumps({"orders": len(rows)}))
            first = False
        if quiet >= keepalive_seconds:
            yield b": keep-alive\n\n"
            quiet = 0.0
        remaining = (until - clock()).total_seconds()
        await asyncio.sleep(max(0.0, min(poll_seconds, remaining)))
        quiet += poll_seconds
    yield event("end", json.dumps({"reason": "the stream's time is up; reconnect"}))
