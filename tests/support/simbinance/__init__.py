"""A simulated Binance spot exchange for tests, spoken to by ccxt's unmodified `binance` class.

    async with running_simbinance(markets={"BTC/USDT": "65000.00"}) as sim:
        sim.add_account("key", "secret", {"USDT": "10000"})
        sim.inject(Fault.accept_then_timeout(hold_seconds=5))   # next POST /api/v3/order
        ...  # point ccxt at sim.base_url (its urls['api'] entries, see ccxt_venue)
        assert len(sim.orders_with(client_order_id)) == 1

`sim.book` holds the state (markets, accounts, orders, trades, withdrawals, deposits):
`sim.book.fill_parts = 3` splits each fill into three trades; `sim.book.fill(order, qty)` adds
one trade to a resting order; `sim.book.set_price(...)` fills the limits it crosses;
`sim.book.deposit(...)` lists an incoming deposit. `sim.seen` logs every request.
"""

from __future__ import annotations

from tests.support.simbinance.faults import Fault, FaultKind
from tests.support.simbinance.server import SimBinance, running_simbinance

__all__ = ["Fault", "FaultKind", "SimBinance", "running_simbinance"]
