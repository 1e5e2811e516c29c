"""Reconciliation with a venue through the real broker and PostgreSQL: the ledger compares what
the venue reports with its books of that venue; a confirmed disagreement halts the account in
safety, whose next order is rejected with KILL_SWITCH; an agreeing report changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

import services.safety.app
from services.ledger.app import MIGRATIONS as LEDGER_MIGRATIONS
from services.ledger.app import build as build_ledger
from services.ledger.settings import LedgerSettings
from services.safety.app import build as build_safety
from services.safety.settings import SafetySettings
from shared.contracts import Envelope, Payload, decode
from shared.contracts.accounts import KillSwitchChanged
from shared.contracts.decisions import OrderApproved, OrderRejected
from shared.contracts.execution import VenueBalancesReported
from shared.contracts.ledger import BalanceDiscrepancyDetected
from shared.contracts.orders import Mode, OrderSpec, OrderType, Side
from shared.contracts.reasons import RejectReason
from shared.kafka import make_producer
from shared.service import ServiceRuntime
from tests.support.running import running_service
from tests.support.topics import publish
from tests.support.waiting import eventually
from tests.unit.ledger.messages import D, deposit, detected, envelope
from tests.unit.safety.messages import listing, place, registered, tick

pytestmark = pytest.mark.integration
SAFETY_MIGRATIONS = Path(services.safety.app.__file__).parent / "migrations"
START = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def user() -> str:
    return "u-" + uuid.uuid4().hex[:10]


@pytest.fixture
def symbol() -> str:
    return "R" + uuid.uuid4().hex[:8].upper() + "/USDT"


@pytest.fixture
async def ledger(settings_factory: Callable[..., Any]) -> AsyncIterator[ServiceRuntime[Any]]:
    settings = settings_factory(LedgerSettings, consumer_batch_size=50)
    async with running_service("ledger", settings, LEDGER_MIGRATIONS, build_ledger) as runtime:
        yield runtime


@pytest.fixture
async def safety(
    settings_factory: Callable[..., Any], symbol: str
) -> AsyncIterator[ServiceRuntime[Any]]:
    settings = settings_factory(SafetySettings, consumer_batch_size=50)
    async with running_service("safety", settings, SAFETY_MIGRATIONS, build_safety) as runtime:
        yield runtime


@pytest.fixture
async def producer(ledger: ServiceRuntime[Any]) -> AsyncIterator[AIOKafkaProducer]:
    producer = make_producer(ledger.settings.kafka_access)
    await producer.start()
    yield producer
    await producer.stop()


def report(user: str, minute: int, **balances: str) -> Envelope:
    body = VenueBalancesReported(
        venue="binance",
        balances={asset: D(amount) for asset, amount in balances.items()},
        observed_at=START + timedelta(minutes=minute),
    )
    return envelope(body, account=user, correlation="balances")


async def emitted(pool: asyncpg.Pool, user: str) -> list[Payload]:
    rows = await pool.fetch("SELECT value FROM outbox WHERE key = $1 ORDER BY id", user)
    return [decode(bytes(r["value"])).payload for r in rows]


async def compared(ledger: ServiceRuntime[Any], user: str, minute: int) -> None:
    """Wait until the ledger has judged the report observed at `minute`."""
    await eventually(
        lambda: ledger.pool.fetchval(
            "SELECT last_observed_at FROM venue_reconciliations WHERE account_id = $1", user
        ),
        until=lambda seen: seen == START + timedelta(minutes=minute),
        what=f"the report of minute {minute} compared",
    )


async def funded_at_binance(
    ledger: ServiceRuntime[Any], producer: AIOKafkaProducer, user: str
) -> None:
    """1000 USDT detected at binance and 500 USDT credited on paper (the paper money is not the
    venue's, so the ledger's binance total is 1000)."""
    await publish(
        producer,
        deposit("500", reference=f"{user}-paper", account=user),
        detected_for(user, "1000"),
    )
    await eventually(
        lambda: ledger.pool.fetchval(
            "SELECT amount FROM balances WHERE owner = $1 AND asset = 'USDT' "
            "AND bucket = 'available'",
            user,
        ),
        until=lambda amount: amount == D("1500"),
        what="both deposits credited",
    )


def detected_for(user: str, amount: str) -> Envelope:
    message = detected(amount, txid=f"{user}-tx", venue="binance")
    return envelope(message.payload, account=user, correlation=f"{user}-tx")


async def test_a_confirmed_shortfall_halts_the_account_and_its_next_order_is_rejected(
    ledger: ServiceRuntime[Any],
    safety: ServiceRuntime[Any],
    producer: AIOKafkaProducer,
    user: str,
    symbol: str,
) -> None:
    await funded_at_binance(ledger, producer, user)
    # safety decides only for accounts it knows, and for markets a venue lists
    await publish(producer, registered(user), listing("paper", symbol))
    await eventually(
        lambda: safety.pool.fetchval("SELECT 1 FROM known_accounts WHERE account_id = $1", user),
        what="the account known to safety",
    )
    await eventually(
        lambda: safety.pool.fetchval("SELECT 1 FROM markets WHERE symbol = $1", symbol),
        what="the symbol listed at safety",
    )
    await publish(producer, tick(symbol, "100", 1), place(user, f"{user}-1", symbol=symbol))
    await eventually(
        lambda: emitted(safety.pool, user),
        until=lambda found: any(isinstance(e, OrderApproved) for e in found),
        what="an order approved before the discrepancy",
    )

    await publish(producer, report(user, 1, USDT="900.5"))
    await compared(ledger, user, 1)
    assert not [
        e for e in await emitted(ledger.pool, user) if isinstance(e, BalanceDiscrepancyDetected)
    ]

    await publish(producer, report(user, 2, USDT="900.5", BTC="0"))  # the second in a row
    found = await eventually(
        lambda: emitted(ledger.pool, user),
        until=lambda es: any(isinstance(e, BalanceDiscrepancyDetected) for e in es),
        what="the discrepancy raised",
    )
    (raised,) = [e for e in found if isinstance(e, BalanceDiscrepancyDetected)]
    assert (raised.venue, raised.asset) == ("binance", "USDT")
    assert (raised.ledger_total, raised.venue_total, raised.difference) == (
        D("1000"),
        D("900.5"),
        D("-99.5"),
    )

    switch = await eventually(
        lambda: safety.pool.fetchrow(
            "SELECT engaged, reason, changed_by FROM kill_switches "
            "WHERE scope = 'account' AND target = $1",
            user,
        ),
        until=lambda row: row is not None and row["engaged"],
        what="the account's kill switch engaged",
    )
    assert switch is not None and switch["changed_by"] == "safety:reconciliation"
    assert "binance" in switch["reason"] and "USDT" in switch["reason"]

    await publish(producer, tick(symbol, "100", 2), place(user, f"{user}-2", symbol=symbol))
    decisions = await eventually(
        lambda: emitted(safety.pool, user),
        until=lambda es: sum(isinstance(e, OrderApproved | OrderRejected) for e in es) == 2,
        what="the order after the discrepancy decided",
    )
    rejected = [e for e in decisions if isinstance(e, OrderRejected)]
    assert [(r.order_id, r.reason) for r in rejected] == [(f"{user}-2", RejectReason.KILL_SWITCH)]
    changes = [e for e in decisions if isinstance(e, KillSwitchChanged)]
    assert [(c.scope, c.target, c.engaged) for c in changes] == [("account", user, True)]

    await publish(producer, report(user, 3, USDT="900.5"))  # still short: raised once per streak
    await compared(ledger, user, 3)
    raised_all = [
        e for e in await emitted(ledger.pool, user) if isinstance(e, BalanceDiscrepancyDetected)
    ]
    assert len(raised_all) == 1
    # what the operator console shows: the last report, how it went, the drift per asset
    assert await last_report(ledger, user) == (START + timedelta(minutes=3), "disagreed")
    assert await comparisons(ledger, user) == {"USDT": (D("900.5"), D("1000"))}


async def test_reports_that_agree_or_come_while_a_hold_is_open_raise_nothing(
    ledger: ServiceRuntime[Any], producer: AIOKafkaProducer, user: str
) -> None:
    await funded_at_binance(ledger, producer, user)
    # agrees within the tolerance; an asset at zero on the venue is no difference
    await publish(producer, report(user, 1, USDT="1000.00000001", ETH="0"))
    await publish(producer, report(user, 2, USDT="1000"))
    await compared(ledger, user, 2)

    order = OrderSpec(
        order_id=f"{user}-o",
        symbol="BTC/USDT",
        side=Side.BUY,
        type=OrderType.LIMIT,
        amount=D("0.01"),
        price=D("60000"),
        mode=Mode.REAL,
        exchange="binance",
    )
    approved = OrderApproved(order=order, reference_price=D("60000"), price_band=D("0.1"))
    await publish(producer, envelope(approved, account=user, correlation=order.order_id))
    await eventually(
        lambda: ledger.pool.fetchval("SELECT status FROM holds WHERE hold_id = $1", order.order_id),
        until=lambda status: status == "open",
        what="the order's hold open",
    )
    # the order filled at the venue and the fill is not booked yet: not comparable
    for minute in (3, 4, 5):
        await publish(producer, report(user, minute, USDT="399.4", BTC="0.01"))
    await publish(producer, report(user, 6, USDT="1000"))  # a late report of the same state
    older = report(user, 1, USDT="1")  # older than one already compared: ignored
    await publish(producer, older)
    await eventually(
        lambda: ledger.pool.fetchval(
            "SELECT outcome FROM inbox WHERE event_id = $1", older.event_id
        ),
        until=lambda outcome: outcome == "applied",
        what="the older report consumed",
    )
    assert not [
        e for e in await emitted(ledger.pool, user) if isinstance(e, BalanceDiscrepancyDetected)
    ]
    state = await ledger.pool.fetchrow(
        "SELECT streak, last_observed_at FROM venue_reconciliations WHERE account_id = $1", user
    )
    assert state is not None
    assert (state["streak"], state["last_observed_at"]) == (0, START + timedelta(minutes=2))
    assert not await ledger.pool.fetchval(
        "SELECT count(*) FROM venue_discrepancies WHERE account_id = $1", user
    )
    assert Decimal("0") == await ledger.pool.fetchval(
        "SELECT coalesce(sum(amount), 0) FROM balances WHERE owner = $1 AND asset = 'BTC'", user
    )
    # the console: the last report came while the hold was open; the drift is minute 2's
    assert await last_report(ledger, user) == (START + timedelta(minutes=6), "skipped_open_hold")
    assert await comparisons(ledger, user) == {"USDT": (D("1000"), D("1000"))}


async def last_report(ledger: ServiceRuntime[Any], user: str) -> tuple[Any, str]:
    row = await ledger.pool.fetchrow(
        "SELECT last_report_at, last_outcome FROM venue_reconciliations WHERE account_id = $1",
        user,
    )
    assert row is not None
    return row["last_report_at"], row["last_outcome"]


async def comparisons(ledger: ServiceRuntime[Any], user: str) -> dict[str, tuple[Decimal, Decimal]]:
    """Asset -> (venue total, ledger total) of the last report compared."""
    rows = await ledger.pool.fetch(
        "SELECT asset, venue_total, ledger_total FROM venue_comparisons WHERE account_id = $1",
        user,
    )
    return {r["asset"]: (r["venue_total"], r["ledger_total"]) for r in rows}
