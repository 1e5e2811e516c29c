"""Execution's composition root: the paper venue and market, network venues through ccxt (keys,
sender, lookups, deposits), the inbox handler, the startup reconciliation before it, and the
dead man's switches."""

from __future__ import annotations

import time
from decimal import Decimal

import asyncpg

from services.execution.dead_man import DeadMan, VenueTimers
from services.execution.domain.outcomes import Backoff
from services.execution.handlers import ExecutionHandler, VenueFactory
from services.execution.paper.market import start
from services.execution.paper.store import PaperStore
from services.execution.paper.ticker import PaperMarket
from services.execution.paper.venue import PAPER, PaperRules, PaperVenue
from services.execution.remote.balances import BalanceReporter
from services.execution.remote.clients import RemoteClients, VenueOpener
from services.execution.remote.deposits import DepositWatcher
from services.execution.remote.deps import VenueDeps
from services.execution.remote.keys import KeyChecker
from services.execution.remote.listings import MarketLister, announce_listing
from services.execution.remote.orders import AfterSend, RemoteOrders
from services.execution.remote.sending import RemoteRules
from services.execution.remote.withdrawals import RemoteWithdrawals
from services.execution.remote.work import VenueWork
from services.execution.settings import ExecutionSettings
from services.execution.venues.base import RemoteVenue, Venue
from services.execution.venues.ccxt_client import is_ccxt_exchange
from services.execution.venues.ccxt_venue import CcxtVenue
from shared.contracts.access import acts_on, readable_by
from shared.contracts.execution import ListedMarket
from shared.db import Connection
from shared.emitter import Emitter
from shared.service import ServiceRuntime


def paper_rules(settings: ExecutionSettings) -> PaperRules:
    return PaperRules(
        fee_rate=settings.paper_fee_rate,
        spread=settings.paper_spread,
        partial_fills=settings.paper_partial_fills,
    )


async def seed_paper_prices(conn: Connection, start_prices: dict[str, Decimal]) -> None:
    """List each configured symbol; a walk that exists already continues where it stopped."""
    await PaperStore(conn).seed_prices([start(s, p) for s, p in sorted(start_prices.items())])


async def list_paper_markets(conn: Connection, emitter: Emitter) -> None:
    """Tell safety what the paper venue trades (every symbol with a walk), before any tick."""
    symbols = sorted(await PaperStore(conn).symbols())
    markets = [ListedMarket(symbol=symbol) for symbol in symbols]
    await announce_listing(conn, emitter, PAPER, markets)


def venue_factory(rules: PaperRules) -> VenueFactory:
    """The venue answered inside a transaction: the paper venue (network venues never are)."""

    def venue_for(conn: Connection, name: str) -> Venue | None:
        return PaperVenue(conn, rules) if name == PAPER else None

    return venue_for


def remote_rules(settings: ExecutionSettings) -> RemoteRules:
    timeout = settings.exchange_timeout_ms / 1000
    return RemoteRules(
        poll_seconds=settings.exchange_poll_seconds,
        backoff=Backoff(
            settings.exchange_lookup_backoff_seconds, settings.exchange_lookup_backoff_max_seconds
        ),
        not_found_lookups=settings.exchange_not_found_lookups,
        max_submissions=settings.exchange_max_submissions,
        lease_seconds=2 * timeout + 5,
    )


def ccxt_opener(settings: ExecutionSettings) -> VenueOpener:
    """A ccxt client per key, pointed at `exchange_url_overrides` where one is configured."""

    def open_venue(exchange: str, credentials: dict[str, str]) -> RemoteVenue:
        return CcxtVenue(
            exchange,
            credentials,
            timeout_ms=settings.exchange_timeout_ms,
            base_url=settings.exchange_url_overrides.get(exchange),
        )

    return open_venue


def venue_work(
    pool: asyncpg.Pool,
    settings: ExecutionSettings,
    emitter: Emitter,
    *,
    opener: VenueOpener | None = None,
    after_send: AfterSend | None = None,
) -> VenueWork:
    clients = RemoteClients(pool, opener or ccxt_opener(settings), settings.exchange_seal_key)
    deps = VenueDeps(pool, clients, emitter)
    rules = remote_rules(settings)
    lister = MarketLister(
        deps, monotonic=time.monotonic, refresh_seconds=settings.exchange_markets_refresh_seconds
    )
    return VenueWork(
        clients=clients,
        keys=KeyChecker(deps, rules.backoff, lister=lister),
        orders=RemoteOrders(deps, rules, after_send=after_send),
        withdrawals=RemoteWithdrawals(deps, rules),
        deposits=DepositWatcher(deps),
        poll_seconds=settings.exchange_poll_seconds,
        deposit_poll_seconds=settings.deposit_poll_seconds,
        startup_reconcile_seconds=settings.exchange_startup_reconcile_seconds,
        balances=BalanceReporter(deps),
        balance_poll_seconds=settings.venue_balance_interval_seconds,
        listings=lister,
        timers=VenueTimers(deps),
    )


async def build(runtime: ServiceRuntime[ExecutionSettings]) -> None:
    await build_with(runtime)


async def build_with(
    runtime: ServiceRuntime[ExecutionSettings],
    *,
    opener: VenueOpener | None = None,
    after_send: AfterSend | None = None,
) -> VenueWork:
    """`build`, with the parts tests replace (the venue client maker, a hook after sending)."""
    settings, emitter = runtime.settings, runtime.emitter
    rules = paper_rules(settings)
    async with runtime.pool.acquire() as conn, conn.transaction():
        await seed_paper_prices(conn, settings.paper_start_prices)
        await list_paper_markets(conn, emitter)
    work = venue_work(runtime.pool, settings, emitter, opener=opener, after_send=after_send)
    await work.reconcile_at_startup()  # before the first message is consumed
    handler = ExecutionHandler(venue_for=venue_factory(rules), emitter=emitter)
    runtime.consume(readable_by(runtime.name), handler, acts_on=acts_on(runtime.name))
    dead_man = DeadMan(
        runtime.pool,
        venue_for=venue_factory(rules),
        emitter=emitter,
        remote=is_ccxt_exchange,
        poll_seconds=settings.cancel_all_after_poll_seconds,
    )
    market = PaperMarket(
        runtime.pool,
        rules=rules,
        seed=settings.paper_seed,
        volatility=settings.paper_volatility,
        tick_seconds=settings.paper_tick_seconds,
        emitter=emitter,
    )
    runtime.background(market.run)
    runtime.background(work.run)
    runtime.background(dead_man.run)
    return work
