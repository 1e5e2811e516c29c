"""The post-trade controls, after a fill is booked or an order decided, in the same transaction.

* A booked fill counts toward the execution throttle (`halts.halt_account`, changed by
  `safety:execution_throttle`) and is compared with the account's fills of the other side for
  a wash trade.
* A decided order counts toward the order-to-trade ratio (a run of decided orders, each of
  another account, is counted at once: `after_orders`).

Surveillance raises `SuspiciousActivityFlagged` (`held: false`) once per episode; the flag's
event id is derived from the episode's first match, and the match is recorded in the inbox's
transaction, so a redelivered message neither counts again nor flags again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.safety.domain import Limits
from services.safety.domain.surveillance import (
    ORDER_TO_TRADE_RATIO,
    WASH_TRADE,
    BookedFill,
    Finding,
    execution_throttle,
    order_to_trade,
    wash_trade,
)
from services.safety.halts import halt_account
from services.safety.store_surveillance import SurveillanceStore
from shared.contracts.decisions import HeldRequestKind, SuspiciousActivityFlagged
from shared.contracts.envelope import Envelope
from shared.contracts.execution import OrderFilled
from shared.contracts.orders import Side
from shared.db import Connection
from shared.emitter import Emitter
from shared.ids import derived_id
from shared.inbox import in_trace_of

log = logging.getLogger(__name__)
THROTTLED_BY = "safety:execution_throttle"


async def after_fill(
    conn: Connection, emitter: Emitter, message: Envelope, fill: OrderFilled, limits: Limits
) -> None:
    """A fill just booked (first time): the throttle, then the wash-trade pattern."""
    store, account_id, at = SurveillanceStore(conn), message.account_id, message.occurred_at
    limits = limits.with_overrides(await store.limit_overrides(account_id))
    switch = await store.account_switch(account_id)
    if switch is None or not switch.halted:
        released = switch.released_at if switch is not None else None
        times = await store.fill_times(account_id, at - limits.execution_throttle_window)
        tripped = execution_throttle(times, at, limits, counting_since=released)
        if tripped is not None:
            await halt_account(
                conn, emitter, message, reason=tripped.detail, changed_by=THROTTLED_BY
            )
    this = BookedFill(fill.order_id, fill.trade_id, Side(fill.side), fill.price, at)
    others = await store.fills_of(account_id, fill.symbol, at, limits.wash_trade_window)
    found = wash_trade(this, others, limits)
    if found is not None and await store.match(
        account_id, WASH_TRADE, fill.symbol, at, limits.wash_trade_window
    ):
        await _flag(conn, emitter, message, found, fill.order_id, key=fill.trade_id, now=at)


@dataclass(frozen=True)
class OrderDecided:
    """An order just decided (first time), with what its post-trade check reads."""

    message: Envelope
    order_id: str
    requested_at: datetime
    limits: Limits


async def after_orders(conn: Connection, emitter: Emitter, decided: Sequence[OrderDecided]) -> None:
    """Orders just decided (each of another account): each account's orders per fill over the
    window, counted in one statement; a match (rare) is recorded and flagged one at a time."""
    store = SurveillanceStore(conn)
    counts = await store.activity(
        [(d.message.account_id, d.requested_at - d.limits.order_to_trade_window) for d in decided]
    )
    for d in decided:
        message, window = d.message, d.limits.order_to_trade_window
        found = order_to_trade(*counts[message.account_id], d.limits)
        if found is None:
            continue
        with in_trace_of(message):
            if await store.match(
                message.account_id, ORDER_TO_TRADE_RATIO, "", d.requested_at, window
            ):
                await _flag(
                    conn, emitter, message, found, d.order_id, key=d.order_id, now=d.requested_at
                )


async def _flag(
    conn: Connection,
    emitter: Emitter,
    cause: Envelope,
    found: Finding,
    order_id: str,
    *,
    key: str,
    now: datetime,
) -> None:
    flag = SuspiciousActivityFlagged(
        request_kind=HeldRequestKind.ORDER,
        request_id=order_id,
        rule=found.rule,
        detail=found.detail,
        values=found.values,
        held=False,
    )
    await emitter.emit(
        conn,
        flag,
        account_id=cause.account_id,
        correlation_id=order_id,
        cause=cause,
        now=now,
        event_id=derived_id("safety.surveillance", found.rule, cause.account_id, key),
    )
    log.warning("account %s flagged %s: %s", cause.account_id, found.rule, found.detail)
