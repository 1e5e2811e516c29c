"""The background work at network venues, in one task: keys checked, dead man's timers set,
orders and withdrawals sent and looked up, deposits watched, balances reported. A database
hiccup skips one pass, nothing more.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from services.execution.dead_man import VenueTimers
from services.execution.remote.balances import BalanceReporter
from services.execution.remote.clients import RemoteClients
from services.execution.remote.deposits import DepositWatcher
from services.execution.remote.keys import KeyChecker
from services.execution.remote.listings import MarketLister
from services.execution.remote.orders import RemoteOrders
from services.execution.remote.withdrawals import RemoteWithdrawals
from services.execution.venues.ccxt_client import ccxt_async
from shared.db import TRANSIENT_ERRORS

log = logging.getLogger(__name__)


@dataclass
class VenueWork:
    clients: RemoteClients
    keys: KeyChecker
    orders: RemoteOrders
    withdrawals: RemoteWithdrawals
    deposits: DepositWatcher
    poll_seconds: float
    deposit_poll_seconds: float
    startup_reconcile_seconds: float = 120.0
    balances: BalanceReporter | None = None
    balance_poll_seconds: float = 0.0
    """How often balances are reported; 0: never."""
    listings: MarketLister | None = None
    timers: VenueTimers | None = None
    """Network venues' own dead man's timers, set after each arming (best effort)."""

    async def reconcile_at_startup(self) -> tuple[int, int]:
        """Before consuming: every open or unknown order and withdrawal compared with its venue
        by client id, and what was missed while down emitted. A venue that does not answer
        leaves its orders to the background passes (with backoff): start-up is not blocked."""
        try:
            async with asyncio.timeout(self.startup_reconcile_seconds):
                orders = await self.orders.reconcile_all()
                withdrawals = await self.withdrawals.reconcile_all()
        except TimeoutError:
            log.warning("startup reconciliation unfinished: the background passes continue it")
            return -1, -1
        if orders or withdrawals:
            log.info("startup reconciliation: %d orders, %d withdrawals", orders, withdrawals)
        return orders, withdrawals

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        next_deposits = next_balances = loop.time()
        try:
            # ccxt loads every exchange on import (seconds of CPU): in a thread, not in the loop
            await asyncio.to_thread(ccxt_async)
            while not stop.is_set():
                await self._pass("keys", self.keys.tick)
                if self.listings is not None:
                    await self._pass("markets", self.listings.tick)
                if self.timers is not None:
                    await self._pass("timers", self.timers.tick)
                await self._pass("orders", self.orders.tick)
                await self._pass("withdrawals", self.withdrawals.tick)
                if loop.time() >= next_deposits:
                    await self._pass("deposits", self.deposits.tick)
                    next_deposits = loop.time() + self.deposit_poll_seconds
                if self.balances is not None and self.balance_poll_seconds > 0:
                    if loop.time() >= next_balances:  # after deposits: fewer in flight
                        await self._pass("balances", self.balances.tick)
                        next_balances = loop.time() + self.balance_poll_seconds
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self.poll_seconds)
                except TimeoutError:
                    pass
        finally:
            await self.clients.close()

    @staticmethod
    async def _pass(what: str, work: Callable[[], Awaitable[object]]) -> None:
        try:
            await work()
        except TRANSIENT_ERRORS as exc:
            log.warning("venue work (%s) skipped a pass: %s", what, exc)
