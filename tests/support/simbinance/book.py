"""The simulated exchange's state and matching: in memory, Decimal throughout, no I/O.

The HTTP layer (`server.py`) translates requests into calls here and answers in Binance's JSON
shapes (`wire.py`).
"""

from __future__ import annotations

import itertools
from decimal import Decimal

from tests.support.simbinance.records import (
    FEE_RATE,
    Account,
    Deposit,
    Market,
    Order,
    Refused,
    Trade,
    Withdrawal,
    duplicate_order,
    insufficient_balance,
    now_ms,
    unknown_order,
)

__all__ = ["Book", "Order", "Refused", "now_ms", "unknown_order"]


class Book:
    """Everything the simulated Binance knows. Orders match only against a fixed market price."""

    def __init__(self) -> None:
        self.markets: dict[str, Market] = {}
        self.accounts: dict[str, Account] = {}
        self.orders: list[Order] = []
        self.trades: list[Trade] = []
        self.withdrawals: list[Withdrawal] = []
        self.deposits: list[Deposit] = []
        self.fill_parts = 1
        """A marketable order fills in this many trades (partial fills)."""
        self.client_ids_unique_among_open_only = False
        """Binance's documented rule: a `newClientOrderId` is unique among OPEN orders only,
        so an ended order's id can place a second order. Off (the default), an id is refused
        for ever, which would hide a second send of an order that already ended."""
        self._ids = itertools.count(1000)

    # --- set-up -------------------------------------------------------------------------------

    def list_market(self, symbol: str, price: Decimal) -> None:
        base, quote = symbol.split("/")
        self.markets[base + quote] = Market(base, quote, price)

    def add_account(self, api_key: str, secret: str, balances: dict[str, Decimal]) -> None:
        self.accounts[api_key] = Account(api_key, secret, dict(balances))

    # --- orders -------------------------------------------------------------------------------

    def market(self, symbol_id: str) -> Market:
        market = self.markets.get(symbol_id)
        if market is None:
            raise Refused(400, -1121, "Invalid symbol.")
        return market

    def place(
        self,
        account: str,
        *,
        symbol_id: str,
        side: str,
        type: str,
        qty: Decimal,
        price: Decimal | None,
        client_order_id: str,
    ) -> Order:
        market = self.market(symbol_id)
        taken = [
            o for o in self.orders if (o.account, o.client_order_id) == (account, client_order_id)
        ]
        if any(o.is_open or not self.client_ids_unique_among_open_only for o in taken):
            raise duplicate_order()
        if type not in ("MARKET", "LIMIT") or qty <= 0 or (type == "LIMIT" and not price):
            raise Refused(400, -1013, "Invalid quantity or price.")
        spend_asset, needed = self._cost(market, side, qty, price or market.price)
        if self.accounts[account].balances.get(spend_asset, Decimal(0)) < needed:
            raise insufficient_balance()
        order = Order(next(self._ids), account, client_order_id, symbol_id, side, type, qty, price)
        self.orders.append(order)
        if type == "MARKET" or self._crossed(order, market.price):
            self._fill_in_parts(order, order.remaining, market.price)
        return order

    def find(self, account: str, symbol_id: str, client_order_id: str) -> Order:
        for order in self.orders:
            if (order.account, order.symbol_id, order.client_order_id) == (
                account,
                symbol_id,
                client_order_id,
            ):
                return order
        raise unknown_order()

    def cancel(self, account: str, symbol_id: str, client_order_id: str) -> Order:
        order = self.find(account, symbol_id, client_order_id)
        if not order.is_open:
            raise Refused(400, -2011, "Unknown order sent.")
        order.status = "CANCELED"
        order.update_ms = now_ms()
        return order

    def fill(self, order: Order, qty: Decimal, price: Decimal | None = None) -> Trade:
        """One trade of `qty` (at the limit price, else the market price)."""
        assert order.is_open and 0 < qty <= order.remaining
        market = self.markets[order.symbol_id]
        at = price or order.price or market.price
        commission = (qty * at * FEE_RATE).quantize(Decimal("0.00000001"))
        trade = Trade(
            next(self._ids),
            order.order_id,
            order.symbol_id,
            at,
            qty,
            commission,
            market.quote,
            order.side == "BUY",
        )
        self.trades.append(trade)
        order.executed += qty
        order.quote_executed += qty * at
        order.status = "FILLED" if order.remaining == 0 else "PARTIALLY_FILLED"
        order.update_ms = trade.time_ms
        self._settle(order.account, market, order.side, qty, at, commission)
        return trade

    def set_price(self, symbol_id: str, price: Decimal) -> None:
        market = self.market(symbol_id)
        market.price = price
        for order in self.orders:
            if order.symbol_id == symbol_id and order.is_open and self._crossed(order, price):
                self._fill_in_parts(order, order.remaining, order.price or price)

    def trades_of(self, account: str, symbol_id: str, order_id: int | None) -> list[Trade]:
        mine = {o.order_id for o in self.orders if o.account == account}
        return [
            t
            for t in self.trades
            if t.order_id in mine
            and t.symbol_id == symbol_id
            and (order_id is None or t.order_id == order_id)
        ]

    # --- wallet -------------------------------------------------------------------------------

    def withdraw(
        self,
        account: str,
        coin: str,
        amount: Decimal,
        address: str,
        network: str | None,
        withdraw_order_id: str | None,
    ) -> Withdrawal:
        balances = self.accounts[account].balances
        if amount <= 0 or balances.get(coin, Decimal(0)) < amount:
            raise Refused(400, -4026, "User has insufficient balance")
        balances[coin] -= amount
        number = next(self._ids)
        withdrawal = Withdrawal(
            f"wd{number}",
            account,
            coin,
            amount,
            address,
            network,
            withdraw_order_id,
            f"0xsim{number}",
        )
        self.withdrawals.append(withdrawal)
        return withdrawal

    def deposit(self, account: str, coin: str, amount: Decimal, tx_id: str) -> Deposit:
        """A deposit arriving from outside: credited and listed in the deposit history."""
        balances = self.accounts[account].balances
        balances[coin] = balances.get(coin, Decimal(0)) + amount
        deposit = Deposit(f"dp{next(self._ids)}", account, coin, amount, tx_id)
        self.deposits.append(deposit)
        return deposit

    # --- internals ----------------------------------------------------------------------------

    def _cost(self, market: Market, side: str, qty: Decimal, price: Decimal) -> tuple[str, Decimal]:
        if side == "BUY":
            return market.quote, qty * price * (1 + FEE_RATE)
        return market.base, qty

    @staticmethod
    def _crossed(order: Order, price: Decimal) -> bool:
        if order.type != "LIMIT" or order.price is None:
            return False
        return order.price >= price if order.side == "BUY" else order.price <= price

    def _fill_in_parts(self, order: Order, qty: Decimal, price: Decimal) -> None:
        parts = max(1, self.fill_parts)
        piece = (qty / parts).quantize(Decimal("0.00000001"))
        for _ in range(parts - 1):
            if piece > 0 and piece < order.remaining:
                self.fill(order, piece, price)
        self.fill(order, order.remaining, price)

    def _settle(
        self, account: str, market: Market, side: str, qty: Decimal, price: Decimal, fee: Decimal
    ) -> None:
        balances = self.accounts[account].balances
        for asset in (market.base, market.quote):
            balances.setdefault(asset, Decimal(0))
        if side == "BUY":
            balances[market.quote] -= qty * price + fee
            balances[market.base] += qty
        else:
            balances[market.base] -= qty
            balances[market.quote] += qty * price - fee
