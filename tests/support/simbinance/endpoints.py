"""The signed Binance endpoints the simulator serves, over its `Book`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

from aiohttp import web

from tests.support.simbinance import wire
from tests.support.simbinance.book import Book, Order, now_ms, unknown_order


@dataclass(frozen=True)
class Call:
    """One authenticated request: who sent it and its parameters."""

    method: str
    path: str
    api_key: str
    params: dict[str, str]


Handler = Callable[[Call], Awaitable[object]]


class Endpoints:
    def __init__(self, book: Book) -> None:
        self._book = book

    def signed(self) -> dict[tuple[str, str], Handler]:
        return {
            ("GET", "/api/v3/account"): self._account,
            ("POST", "/api/v3/order"): self._new_order,
            ("GET", "/api/v3/order"): self._query_order,
            ("DELETE", "/api/v3/order"): self._cancel_order,
            ("GET", "/api/v3/openOrders"): self._open_orders,
            ("GET", "/api/v3/myTrades"): self._my_trades,
            ("GET", "/sapi/v1/capital/config/getall"): self._coins,
            ("POST", "/sapi/v1/capital/withdraw/apply"): self._withdraw,
            ("GET", "/sapi/v1/capital/withdraw/history"): self._withdrawals,
            ("GET", "/sapi/v1/capital/deposit/hisrec"): self._deposits,
        }

    def public(self) -> dict[tuple[str, str], Callable[[web.Request], object]]:
        return {
            ("GET", "/api/v3/exchangeInfo"): lambda r: wire.exchange_info(self._book),
            ("GET", "/api/v3/ping"): lambda r: {},
            ("GET", "/api/v3/time"): lambda r: {"serverTime": now_ms()},
            ("GET", "/api/v3/ticker/24hr"): self._ticker,
        }

    def _ticker(self, request: web.Request) -> object:
        symbol = request.query.get("symbol")
        if symbol is not None:
            return wire.ticker_24hr(self._book.market(symbol))
        return [wire.ticker_24hr(m) for m in self._book.markets.values()]

    async def _account(self, call: Call) -> object:
        return wire.account(self._book, call.api_key)

    async def _new_order(self, call: Call) -> object:
        p = call.params
        price = p.get("price")
        order = self._book.place(
            call.api_key,
            symbol_id=p.get("symbol", ""),
            side=p.get("side", ""),
            type=p.get("type", ""),
            qty=Decimal(p.get("quantity", "0")),
            price=Decimal(price) if price else None,
            client_order_id=p.get("newClientOrderId", "") or f"sim-{len(self._book.orders)}",
        )
        trades = self._book.trades_of(call.api_key, order.symbol_id, order.order_id)
        return wire.new_order(order, trades)

    def _order_of(self, call: Call) -> Order:
        p = call.params
        symbol_id = p.get("symbol", "")
        client_id = p.get("origClientOrderId")
        if client_id is not None:
            return self._book.find(call.api_key, symbol_id, client_id)
        order_id = int(p.get("orderId", "0"))
        for order in self._book.orders:
            if (order.account, order.order_id) == (call.api_key, order_id):
                return order
        raise unknown_order()

    async def _query_order(self, call: Call) -> object:
        return wire.order(self._order_of(call))

    async def _cancel_order(self, call: Call) -> object:
        order = self._order_of(call)
        cancelled = self._book.cancel(call.api_key, order.symbol_id, order.client_order_id)
        answer = wire.order(cancelled)
        answer["origClientOrderId"] = cancelled.client_order_id
        return answer

    async def _open_orders(self, call: Call) -> object:
        symbol_id = call.params.get("symbol")
        return [
            wire.order(o)
            for o in self._book.orders
            if o.account == call.api_key and o.is_open and symbol_id in (None, o.symbol_id)
        ]

    async def _my_trades(self, call: Call) -> object:
        order_id = call.params.get("orderId")
        trades = self._book.trades_of(
            call.api_key, call.params.get("symbol", ""), int(order_id) if order_id else None
        )
        return [wire.my_trade(t) for t in trades]

    async def _coins(self, call: Call) -> object:
        coins = {a for m in self._book.markets.values() for a in (m.base, m.quote)}
        return [wire.coin_config(c) for c in sorted(coins)]

    async def _withdraw(self, call: Call) -> object:
        p = call.params
        item = self._book.withdraw(
            call.api_key,
            p.get("coin", ""),
            Decimal(p.get("amount", "0")),
            p.get("address", ""),
            p.get("network"),
            p.get("withdrawOrderId"),
        )
        return {"id": item.withdrawal_id}

    async def _withdrawals(self, call: Call) -> object:
        wanted = call.params.get("withdrawOrderId")
        return [
            wire.withdrawal(w)
            for w in self._book.withdrawals
            if w.account == call.api_key and wanted in (None, w.withdraw_order_id)
        ]

    async def _deposits(self, call: Call) -> object:
        coin = call.params.get("coin")
        return [
            wire.deposit(d)
            for d in self._book.deposits
            if d.account == call.api_key and coin in (None, d.coin)
        ]
