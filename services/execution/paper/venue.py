"""The paper venue: an exchange simulated in execution's own database.

Its order book lives in `paper_*` tables and every call runs on the caller's connection, so
placing a paper order, recording it and announcing it commit together. Market orders fill at
once at the current walk price ± spread; a limit order that is marketable on arrival fills at
once at that same market price (never worse than its limit: price improvement), otherwise it
rests and fills at its limit when a tick crosses it (`fill_crossed`). Fees are charged in the
quote asset, on the price actually paid.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from services.execution.domain.errors import VenueRejected
from services.execution.domain.orders import (
    PAPER_VENUE,
    Trade,
    VenueOrderStatus,
    arrival_fill_price,
    plan_trades,
)
from services.execution.paper.store import PaperOrder, PaperStore
from services.execution.venues.base import (
    OrderRequest,
    VenueOrder,
    WithdrawalReceipt,
    WithdrawalRequest,
)
from shared.db import Connection
from shared.ids import derived_id

PAPER = PAPER_VENUE


@dataclass(frozen=True)
class PaperRules:
    fee_rate: Decimal = Decimal("0.001")
    spread: Decimal = Decimal("0")
    partial_fills: int = 1


class PaperVenue:
    name = PAPER

    def __init__(self, conn: Connection, rules: PaperRules) -> None:
        self._store = PaperStore(conn)
        self._rules = rules

    async def place_order(self, request: OrderRequest) -> VenueOrder:
        current = await self._store.price(request.symbol, for_update=False)
        if current is None:
            raise VenueRejected(f"{request.symbol} is not listed on the paper venue")
        existing = await self._store.order(request.client_order_id)
        if existing is not None:  # the same client order id never makes a second order
            return await self._view(existing)
        fill_price = arrival_fill_price(
            request.side, request.type, request.price, current.price, self._rules.spread
        )
        venue_order_id = "po-" + derived_id("paper-order", request.client_order_id).hex
        status = VenueOrderStatus.OPEN if fill_price is None else VenueOrderStatus.CLOSED
        await self._store.insert_order(request, venue_order_id, status)
        if fill_price is not None:
            await self._fill(request.client_order_id, request.symbol, request.amount, fill_price)
        return await self._require(request.client_order_id)

    async def fetch_order_by_client_id(
        self, symbol: str, client_order_id: str
    ) -> VenueOrder | None:
        order = await self._store.order(client_order_id)
        return None if order is None else await self._view(order)

    async def cancel_order(self, symbol: str, client_order_id: str) -> VenueOrder:
        await self._store.price(symbol, for_update=False)  # same lock order as a tick
        order = await self._store.order(client_order_id)
        if order is None:
            raise VenueRejected(f"unknown order {client_order_id}")
        if order.status is VenueOrderStatus.OPEN:
            await self._store.set_status(client_order_id, VenueOrderStatus.CANCELED)
        return await self._require(client_order_id)

    async def withdraw(self, request: WithdrawalRequest) -> WithdrawalReceipt:
        made_up = "paper-" + derived_id("paper-withdrawal", request.withdrawal_id).hex
        return WithdrawalReceipt(txid=await self._store.record_withdrawal(request, made_up))

    async def fill_crossed(self, symbol: str, price: Decimal) -> list[str]:
        """Fill every resting order `price` crosses at its limit price; their client order ids.

        Call with the symbol's price row locked for update (the market tick does).
        """
        filled: list[str] = []
        for order in await self._store.crossed_resting_orders(symbol, price):
            assert order.price is not None  # only limit orders rest
            await self._store.set_status(order.client_order_id, VenueOrderStatus.CLOSED)
            await self._fill(order.client_order_id, symbol, order.amount, order.price)
            filled.append(order.client_order_id)
        return filled

    async def _fill(self, client_id: str, symbol: str, amount: Decimal, price: Decimal) -> None:
        quote = symbol.split("/")[1]
        trades: list[Trade] = plan_trades(
            client_id, amount, price, self._rules.fee_rate, self._rules.partial_fills, quote
        )
        await self._store.insert_trades(client_id, trades)

    async def _require(self, client_order_id: str) -> VenueOrder:
        order = await self._store.order(client_order_id)
        assert order is not None
        return await self._view(order)

    async def _view(self, order: PaperOrder) -> VenueOrder:
        trades = await self._store.trades(order.client_order_id)
        return VenueOrder(order.client_order_id, order.venue_order_id, order.status, tuple(trades))
