"""The paper market's clock: every tick, each symbol's walk takes one step, its `PriceTick` is
published, and the resting limit orders the new price crosses are filled and reported.

One transaction per symbol and tick: the new price, its tick and the fills it causes commit
together, and the persisted (price, sequence) lets a restart continue the walk.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import asyncpg

from services.execution.announce import Announcer
from services.execution.domain.orders import PAPER_VENUE
from services.execution.orders import OrderFlow
from services.execution.paper.market import WalkPoint, step
from services.execution.paper.store import PaperStore
from services.execution.paper.venue import PaperRules, PaperVenue
from services.execution.store import PostgresExecutionStore
from shared.contracts.execution import PriceTick
from shared.db import TRANSIENT_ERRORS, Connection
from shared.emitter import Emitter
from shared.ids import SYSTEM_ACCOUNT

log = logging.getLogger(__name__)


class PaperMarket:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        rules: PaperRules,
        seed: int,
        volatility: Decimal,
        tick_seconds: float,
        emitter: Emitter,
    ) -> None:
        self._pool = pool
        self._rules = rules
        self._seed = seed
        self._volatility = volatility
        self._tick_seconds = tick_seconds
        self._emitter = emitter

    async def run(self, stop: asyncio.Event) -> None:
        """Tick until `stop`; a database hiccup skips one tick of one symbol, nothing more."""
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            started = loop.time()
            await self.tick_all()
            remaining = self._tick_seconds - (loop.time() - started)
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(remaining, 0.0))
            except TimeoutError:
                pass

    async def tick_all(self) -> list[WalkPoint]:
        async with self._pool.acquire() as conn:
            symbols = await PaperStore(conn).symbols()
        points: list[WalkPoint] = []
        for symbol in sorted(symbols):
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    point = await self.tick(conn, symbol)
            except TRANSIENT_ERRORS as exc:
                log.warning("paper market: tick of %s skipped: %s", symbol, exc)
                continue
            if point is not None:
                points.append(point)
        return points

    async def tick(self, conn: Connection, symbol: str) -> WalkPoint | None:
        prices = PaperStore(conn)
        current = await prices.price(symbol, for_update=True)
        if current is None:
            return None
        point = step(current, seed=self._seed, volatility=self._volatility)
        await prices.save_price(point)
        announce = Announcer.now_in(self._emitter, conn, cause=None)
        tick = PriceTick(
            venue=PAPER_VENUE, symbol=symbol, price=point.price, sequence=point.sequence
        )
        message = await announce(tick, account_id=SYSTEM_ACCOUNT, correlation_id=symbol)
        venue = PaperVenue(conn, self._rules)
        crossed = await venue.fill_crossed(symbol, point.price)
        if crossed:
            store = PostgresExecutionStore(conn)
            flow = OrderFlow(
                store,
                lambda name: venue if name == PAPER_VENUE else None,
                Announcer.now_in(self._emitter, conn, cause=message),
            )
            for client_id in crossed:
                record = await store.order_by_client_id(client_id)
                answer = await venue.fetch_order_by_client_id(symbol, client_id)
                if record is not None and answer is not None:
                    await flow.apply(record, answer)
        return point
