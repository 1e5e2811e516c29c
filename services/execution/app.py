"""Execution's composition root: the paper venue, the inbox handler and the paper market."""

from __future__ import annotations

from decimal import Decimal

from services.execution.handlers import ExecutionHandler, VenueFactory, utc_now
from services.execution.market import start
from services.execution.settings import ExecutionSettings
from services.execution.ticker import PaperMarket
from services.execution.venues.base import Venue
from services.execution.venues.paper import PAPER, PaperRules, PaperVenue
from services.execution.venues.paper_store import PaperStore
from shared.contracts.topics import Topic
from shared.db import Connection
from shared.outbox import enqueue
from shared.service import ServiceRuntime

CONSUMED_TOPICS = [Topic.LEDGER_EVENTS.value, Topic.ORDER_COMMANDS.value]


def paper_rules(settings: ExecutionSettings) -> PaperRules:
    return PaperRules(
        fee_rate=settings.paper_fee_rate,
        spread=settings.paper_spread,
        partial_fills=settings.paper_partial_fills,
    )


async def seed_paper_prices(conn: Connection, start_prices: dict[str, Decimal]) -> None:
    """List each configured symbol; a walk that exists already continues where it stopped."""
    await PaperStore(conn).seed_prices([start(s, p) for s, p in sorted(start_prices.items())])


def venue_factory(rules: PaperRules) -> VenueFactory:
    """The venues of this build: the paper venue only (a ccxt adapter would be added here)."""

    def venue_for(conn: Connection, name: str) -> Venue | None:
        return PaperVenue(conn, rules) if name == PAPER else None

    return venue_for


async def build(runtime: ServiceRuntime) -> None:
    settings = runtime.settings
    if not isinstance(settings, ExecutionSettings):
        raise TypeError("execution needs ExecutionSettings")
    rules = paper_rules(settings)
    async with runtime.pool.acquire() as conn:
        await seed_paper_prices(conn, settings.paper_start_prices)
    runtime.consume(CONSUMED_TOPICS, ExecutionHandler(venue_for=venue_factory(rules)))
    market = PaperMarket(
        runtime.pool,
        rules=rules,
        seed=settings.paper_seed,
        volatility=settings.paper_volatility,
        tick_seconds=settings.paper_tick_seconds,
        emit=enqueue,
        clock=utc_now,
    )
    runtime.background(market.run)
