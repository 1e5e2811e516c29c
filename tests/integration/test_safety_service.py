"""Safety against the real broker and PostgreSQL: commands in, decisions out, counted once."""

from __future__ import annotations

import functools
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
from services.safety.app import build
from services.safety.settings import SafetySettings
from services.safety.store_facts import FactStore
from shared.contracts import Payload, decode
from shared.contracts.decisions import (
    OrderApproved,
    OrderRejected,
    SuspiciousActivityFlagged,
    WithdrawalApproved,
    WithdrawalRejected,
)
from shared.contracts.execution import ListedMarket
from shared.contracts.reasons import RejectReason
from shared.kafka import make_producer
from shared.service import ServiceRuntime
from tests.support.running import running_service
from tests.support.topics import publish
from tests.support.waiting import eventually
from tests.unit.safety.messages import (
    failed,
    filled,
    key_checked,
    kill_switch,
    listing,
    place,
    registered,
    tick,
    withdraw,
)

pytestmark = pytest.mark.integration
MIGRATIONS = Path(services.safety.app.__file__).parent / "migrations"
Decision = OrderApproved | OrderRejected | WithdrawalApproved | WithdrawalRejected
Emitted = Decision | SuspiciousActivityFlagged


@pytest.fixture
async def user(safety: ServiceRuntime[Any], producer: AIOKafkaProducer) -> str:
    """A new account, registered: safety has stored its `UserRegistered` (the event travels
    on another topic than the commands, so the test waits for it before sending any)."""
    account = "u-" + uuid.uuid4().hex[:10]
    await register(safety, producer, account)
    return account


async def register(safety: ServiceRuntime[Any], producer: AIOKafkaProducer, account: str) -> None:
    await publish(producer, registered(account))
    await eventually(
        lambda: safety.pool.fetchval("SELECT 1 FROM known_accounts WHERE account_id = $1", account),
        what=f"{account} known to safety",
    )


@pytest.fixture
def symbol() -> str:
    """A symbol only this test trades, so other tests' price ticks never move it."""
    return "T" + uuid.uuid4().hex[:8].upper() + "/USDT"


class SettableClock:
    """The wall clock until a test sets a time; safety reads it once per decision."""

    def __init__(self) -> None:
        self.fixed: datetime | None = None

    def __call__(self) -> datetime:
        return self.fixed or datetime.now(UTC)


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock()


@pytest.fixture
def safety_overrides() -> dict[str, Any]:
    """Settings of the safety under test beyond the defaults. These tests send bursts of the
    same order on purpose, so the duplicate window is off; a module that tests it overrides
    this fixture (tests/integration/test_safety_controls.py)."""
    return {"duplicate_window_seconds": 0}


@pytest.fixture
async def safety(
    settings_factory: Callable[..., Any],
    symbol: str,
    clock: SettableClock,
    safety_overrides: dict[str, Any],
) -> AsyncIterator[ServiceRuntime[Any]]:
    settings = settings_factory(
        SafetySettings,
        orders_per_second=1000,
        consumer_batch_size=200,
        **safety_overrides,
    )
    wired = functools.partial(build, clock=clock)
    async with running_service("safety", settings, MIGRATIONS, wired) as runtime:
        yield runtime


@pytest.fixture
async def producer(safety: ServiceRuntime[Any], symbol: str) -> AsyncIterator[AIOKafkaProducer]:
    """A producer, once safety knows that the paper venue and binance list the test's symbol."""
    producer = make_producer(safety.settings.kafka_access)
    await producer.start()
    await publish(producer, listing("paper", symbol), listing("binance", symbol))
    await eventually(
        lambda: safety.pool.fetchval(
            "SELECT count(*) FROM markets WHERE symbol = $1 AND venue IN ('paper', 'binance')",
            symbol,
        ),
        until=lambda found: found == 2,
        what=f"{symbol} listed at safety",
    )
    yield producer
    await producer.stop()


async def decisions(pool: asyncpg.Pool, user: str) -> list[Payload]:
    rows = await pool.fetch("SELECT value FROM outbox WHERE key = $1 ORDER BY id", user)
    return [decode(bytes(r["value"])).payload for r in rows]


async def wait_for_decisions(pool: asyncpg.Pool, user: str, count: int) -> list[Decision]:
    found = await eventually(
        lambda: decisions(pool, user),
        until=lambda ds: sum(isinstance(d, Decision) for d in ds) >= count,
        what=f"{count} decisions for {user}",
    )
    assert all(isinstance(d, Emitted) for d in found)
    return [d for d in found if isinstance(d, Decision)]


async def test_the_hundred_and_first_order_in_an_hour_is_rejected(
    safety: ServiceRuntime[Any], producer: AIOKafkaProducer, user: str, symbol: str
) -> None:
    await publish(producer, tick(symbol, "100", 1))
    orders = [place(user, f"{user}-{n}", symbol=symbol, amount="1") for n in range(101)]
    await publish(producer, *orders)
    found = await wait_for_decisions(safety.pool, user, 101)
    assert [type(d) for d in found[:100]] == [OrderApproved] * 100
    last = found[100]
    assert isinstance(last, OrderRejected)
    assert (last.order_id, last.reason, last.rule) == (
        f"{user}-100",
        RejectReason.HOURLY_TRADE_LIMIT,
        "hourly_trades",
    )
    assert last.values == {"orders_last_hour": "100", "hourly_trade_limit": "100"}


async def test_the_same_order_sent_twice_is_decided_and_counted_once(
    safety: ServiceRuntime[Any], producer: AIOKafkaProducer, user: str, symbol: str
) -> None:
    await publish(producer, tick(symbol, "100", 1))
    first = place(user, f"{user}-1", symbol=symbol, amount="2")
    again = place(user, f"{user}-1", symbol=symbol, amount="2")  # same order, a new message
    await publish(producer, first, first, again, place(user, f"{user}-2", symbol=symbol))
    found = await wait_for_decisions(safety.pool, user, 2)
    assert [d.order.order_id for d in found if isinstance(d, OrderApproved)] == [
        f"{user}-1",
        f"{user}-2",
    ]
    volume = await safety.pool.fetchval(
        "SELECT amount_usd FROM daily_totals WHERE account_id = $1 AND kind = 'order_volume'",
        user,
    )
    assert volume == Decimal("200.1")
    assert len(await decisions(safety.pool, user)) == 2


async def test_kill_switch_engaged_mid_stream_halts_the_account_until_released(
    safety: ServiceRuntime[Any], producer: AIOKafkaProducer, user: str, symbol: str
) -> None:
    await publish(producer, tick(symbol, "100", 1), place(user, f"{user}-1", symbol=symbol))
    await wait_for_decisions(safety.pool, user, 1)
    await publish(producer, kill_switch("account", user, engaged=True))
    await eventually(
        lambda: safety.pool.fetchval(
            "SELECT engaged FROM kill_switches WHERE scope = 'account' AND target = $1", user
        ),
        what="the account's kill switch engaged",
    )
    await publish(producer, *(place(user, f"{user}-{n}", symbol=symbol) for n in (2, 3)))
    halted = await wait_for_decisions(safety.pool, user, 3)
    assert [d.reason for d in halted[1:] if isinstance(d, OrderRejected)] == [
        RejectReason.KILL_SWITCH,
        RejectReason.KILL_SWITCH,
    ]
    await publish(producer, kill_switch("account", user, engaged=False))
    await eventually(
        lambda: safety.pool.fetchval(
            "SELECT NOT engaged FROM kill_switches WHERE scope = 'account' AND target = $1", user
        ),
        what="the account's kill switch released",
    )
    await publish(producer, tick(symbol, "100", 2), place(user, f"{user}-4", symbol=symbol))
    released = await wait_for_decisions(safety.pool, user, 4)
    assert isinstance(released[3], OrderApproved)


async def test_order_without_a_fresh_price_is_rejected_as_unavailable(
    safety: ServiceRuntime[Any], producer: AIOKafkaProducer, user: str, symbol: str
) -> None:
    await publish(producer, place(user, f"{user}-1", symbol=symbol))
    (decision,) = await wait_for_decisions(safety.pool, user, 1)
    assert isinstance(decision, OrderRejected)
    assert decision.reason is RejectReason.PRICE_UNAVAILABLE


async def test_three_failed_orders_start_a_cooldown_and_a_fill_ends_the_streak(
    safety: ServiceRuntime[Any], producer: AIOKafkaProducer, user: str, symbol: str
) -> None:
    await publish(producer, tick(symbol, "100", 1))
    await publish(producer, *(place(user, f"{user}-f{n}", symbol=symbol) for n in range(3)))
    await wait_for_decisions(safety.pool, user, 3)
    await publish(producer, *(failed(user, f"{user}-f{n}") for n in range(3)))
    await publish(producer, failed(user, f"{user}-f2"))  # the same failure again: counted once
    await eventually(
        lambda: safety.pool.fetchval(
            "SELECT consecutive_failures FROM failure_streaks WHERE account_id = $1", user
        ),
        until=lambda n: n == 3,
        what="three failures counted",
    )
    await publish(producer, place(user, f"{user}-4", symbol=symbol))
    cooled = (await wait_for_decisions(safety.pool, user, 4))[3]
    assert isinstance(cooled, OrderRejected)
    assert cooled.reason is RejectReason.COOLDOWN_ACTIVE
    await publish(producer, filled(user, f"{user}-f0", "t1", symbol=symbol, price="100"))
    position = await eventually(
        lambda: safety.pool.fetchrow(
            "SELECT quantity, average_cost_usd FROM positions WHERE account_id = $1", user
        ),
        what="the fill booked",
    )
    assert position is not None
    assert (position["quantity"], position["average_cost_usd"]) == (Decimal("0.001"), 100)
    await publish(producer, place(user, f"{user}-5", symbol=symbol))
    assert isinstance((await wait_for_decisions(safety.pool, user, 5))[4], OrderApproved)


async def test_withdrawals_past_the_daily_limit_are_rejected(
    safety: ServiceRuntime[Any], producer: AIOKafkaProducer, user: str
) -> None:
    await publish(
        producer,
        withdraw(user, f"{user}-w1", "300000"),
        withdraw(user, f"{user}-w2", "200000"),
        withdraw(user, f"{user}-w3", "0.01"),
    )
    found = await wait_for_decisions(safety.pool, user, 3)
    assert [type(d) for d in found] == [WithdrawalApproved, WithdrawalApproved, WithdrawalRejected]
    assert isinstance(found[2], WithdrawalRejected)
    assert found[2].reason is RejectReason.WITHDRAWAL_DAILY_LIMIT


async def test_an_account_override_and_the_utc_day_rollover_apply_through_the_store(
    safety: ServiceRuntime[Any],
    producer: AIOKafkaProducer,
    user: str,
    symbol: str,
    clock: SettableClock,
) -> None:
    async with safety.pool.acquire() as conn:
        await FactStore(conn).set_limit_override(user, "daily_volume_limit_usd", Decimal("150"))
    late = datetime(2030, 1, 1, 23, 59, 30, tzinfo=UTC)
    clock.fixed = late
    await publish(producer, tick(symbol, "100", 1, at=late))
    await publish(
        producer, *(place(user, f"{user}-{n}", symbol=symbol, amount="1") for n in (1, 2))
    )
    same_day = await wait_for_decisions(safety.pool, user, 2)
    assert isinstance(same_day[0], OrderApproved)
    assert isinstance(same_day[1], OrderRejected)
    assert same_day[1].reason is RejectReason.DAILY_VOLUME_EXCEEDED
    assert same_day[1].values["daily_volume_limit_usd"] == "150"
    clock.fixed = late + timedelta(seconds=30)  # midnight UTC: a new day, the same fresh price
    await publish(producer, place(user, f"{user}-3", symbol=symbol, amount="1"))
    next_day = await wait_for_decisions(safety.pool, user, 3)
    assert isinstance(next_day[2], OrderApproved)


async def test_the_rolling_hour_frees_up_an_hour_after_the_first_orders(
    safety: ServiceRuntime[Any],
    producer: AIOKafkaProducer,
    user: str,
    symbol: str,
    clock: SettableClock,
) -> None:
    start = datetime(2030, 6, 1, 9, 0, 0, tzinfo=UTC)
    clock.fixed = start
    await publish(producer, tick(symbol, "100", 1, at=start))
    await publish(producer, *(place(user, f"{user}-{n}", symbol=symbol) for n in range(101)))
    full = await wait_for_decisions(safety.pool, user, 101)
    assert isinstance(full[100], OrderRejected)
    an_hour_later = start + timedelta(hours=1)
    clock.fixed = an_hour_later
    await publish(producer, tick(symbol, "100", 2, at=an_hour_later))
    await eventually(
        lambda: safety.pool.fetchval(
            "SELECT observed_at FROM reference_prices WHERE symbol = $1", symbol
        ),
        until=lambda at: at == an_hour_later,
        what="the new price stored",
    )
    await publish(producer, place(user, f"{user}-later", symbol=symbol))
    later = await wait_for_decisions(safety.pool, user, 102)
    assert isinstance(later[101], OrderApproved)


async def test_real_money_orders_need_a_key_execution_found_valid(
    safety: ServiceRuntime[Any], producer: AIOKafkaProducer, user: str, symbol: str
) -> None:
    async def key_is(valid: bool) -> None:
        await publish(producer, key_checked(user, "binance", valid=valid))
        await eventually(
            lambda: safety.pool.fetchval(
                "SELECT valid FROM exchange_keys WHERE account_id = $1", user
            ),
            until=lambda stored: stored is valid,
            what=f"the key stored as valid={valid}",
        )

    await publish(
        producer,
        tick(symbol, "100", 1),
        place(user, f"{user}-1", symbol=symbol, exchange="binance"),
    )
    await wait_for_decisions(safety.pool, user, 1)
    await key_is(True)
    await publish(producer, place(user, f"{user}-2", symbol=symbol, exchange="binance"))
    await wait_for_decisions(safety.pool, user, 2)
    await key_is(False)
    await publish(producer, place(user, f"{user}-3", symbol=symbol, exchange="binance"))
    first, second, third = await wait_for_decisions(safety.pool, user, 3)
    assert isinstance(first, OrderRejected)
    assert first.reason is RejectReason.EXCHANGE_KEY_INVALID
    assert isinstance(second, OrderApproved)
    assert isinstance(third, OrderRejected)
    assert third.reason is RejectReason.EXCHANGE_KEY_INVALID


async def test_a_command_from_an_account_safety_never_saw_registered_is_rejected_inactive(
    safety: ServiceRuntime[Any], producer: AIOKafkaProducer, symbol: str
) -> None:
    stranger = "u-" + uuid.uuid4().hex[:10]
    await publish(
        producer,
        tick(symbol, "100", 1),
        place(stranger, f"{stranger}-1", symbol=symbol),
        withdraw(stranger, f"{stranger}-w1", "10"),
    )
    found = await wait_for_decisions(safety.pool, stranger, 2)  # two topics: in any order
    (order,) = [d for d in found if isinstance(d, OrderRejected)]
    (withdrawal,) = [d for d in found if isinstance(d, WithdrawalRejected)]
    assert order.reason is withdrawal.reason is RejectReason.ACCOUNT_INACTIVE
    assert "not seen this account registered" in order.detail
    await register(safety, producer, stranger)  # registered now: the user's retry goes through
    await publish(producer, place(stranger, f"{stranger}-2", symbol=symbol))
    assert isinstance((await wait_for_decisions(safety.pool, stranger, 3))[2], OrderApproved)


def held(
    emitted: list[Payload], request_id: str
) -> tuple[list[OrderRejected | WithdrawalRejected], list[SuspiciousActivityFlagged]]:
    """The rejections for SUSPICIOUS_ACTIVITY and the flags of one request."""
    rejected: list[OrderRejected | WithdrawalRejected] = []
    flags: list[SuspiciousActivityFlagged] = []
    for e in emitted:
        match e:
            case OrderRejected(order_id=i) | WithdrawalRejected(withdrawal_id=i) if (
                i == request_id and e.reason is RejectReason.SUSPICIOUS_ACTIVITY
            ):
                rejected.append(e)
            case SuspiciousActivityFlagged(request_id=i) if i == request_id:
                flags.append(e)
    return rejected, flags


async def test_a_held_withdrawal_is_rejected_and_flagged_once_though_delivered_twice(
    safety: ServiceRuntime[Any], producer: AIOKafkaProducer, user: str
) -> None:
    await publish(producer, *(withdraw(user, f"{user}-w{n}", "1") for n in range(20)))
    suspect = withdraw(user, f"{user}-w20", "1")
    again = withdraw(user, f"{user}-w20", "1")  # the same withdrawal, a new message
    await publish(producer, suspect, suspect, again, withdraw(user, f"{user}-w21", "1"))
    found = await wait_for_decisions(safety.pool, user, 22)
    assert all(isinstance(d, WithdrawalApproved) for d in found[:20])
    emitted = await decisions(safety.pool, user)
    rejected, flags = held(emitted, f"{user}-w20")
    assert len(rejected) == 1
    assert len(flags) == 1
    (flag,) = flags
    assert (flag.request_kind, flag.rule) == ("withdrawal", "withdrawal_burst")
    assert flag.values == {"withdrawals_last_hour": "20", "threshold": "20"}
    assert len(held(emitted, f"{user}-w21")[1]) == 1  # the next one is held and flagged too
    assert len(emitted) == 20 + 2 * 2


async def test_a_held_order_is_rejected_and_flagged_once_though_delivered_twice(
    safety: ServiceRuntime[Any], producer: AIOKafkaProducer, user: str, symbol: str
) -> None:
    """Fifty orders rejected in the hour (no price yet), then one that passes every limit:
    held as a rejection burst."""
    await publish(producer, *(place(user, f"{user}-r{n}", symbol=symbol) for n in range(50)))
    await wait_for_decisions(safety.pool, user, 50)
    await publish(producer, tick(symbol, "100", 1))
    suspect = place(user, f"{user}-held", symbol=symbol)
    await publish(producer, suspect, suspect, place(user, f"{user}-held", symbol=symbol))
    await wait_for_decisions(safety.pool, user, 51)
    emitted = await decisions(safety.pool, user)
    rejected, flags = held(emitted, f"{user}-held")
    assert len(rejected) == 1
    assert len(flags) == 1
    assert (flags[0].request_kind, flags[0].rule) == ("order", "rejection_burst")
    assert flags[0].values == {"rejections_last_hour": "50", "threshold": "50"}
    assert len(emitted) == 52
    outbox = await safety.pool.fetch(
        "SELECT value FROM outbox WHERE key = $1 ORDER BY id DESC LIMIT 2", user
    )
    flag, rejection = (decode(bytes(r["value"])) for r in outbox)
    assert flag.causation_id == rejection.causation_id  # both caused by the same command
    assert flag.correlation_id == rejection.correlation_id == f"{user}-held"


async def test_a_venues_new_listing_applies_to_the_orders_after_it(
    safety: ServiceRuntime[Any], producer: AIOKafkaProducer, user: str, symbol: str
) -> None:
    await publish(producer, tick(symbol, "100", 1), place(user, f"{user}-1", symbol=symbol))
    (first,) = await wait_for_decisions(safety.pool, user, 1)
    assert isinstance(first, OrderApproved)

    # the venue now lists the symbol with a minimum cost of 500 USDT, then stops listing it
    rules = ListedMarket(symbol=symbol, cost_min=Decimal("500"), amount_step=Decimal("1"))
    await publish(producer, listing("paper", rules))
    await eventually(
        lambda: safety.pool.fetchval(
            "SELECT cost_min FROM markets WHERE venue = 'paper' AND symbol = $1", symbol
        ),
        what="the new rules at safety",
    )
    await publish(
        producer,
        tick(symbol, "100", 2),
        place(user, f"{user}-2", symbol=symbol, amount="4"),  # 400 USDT
        place(user, f"{user}-3", symbol=symbol, amount="4.5"),  # off the 1-unit lot size
        place(user, f"{user}-4", symbol=symbol, amount="5"),  # exactly 500 USDT
    )
    found = await wait_for_decisions(safety.pool, user, 4)
    assert [(d.reason, d.rule) for d in found[1:3] if isinstance(d, OrderRejected)] == [
        (RejectReason.AMOUNT_BELOW_MIN, "market_cost"),
        (RejectReason.PRICE_INVALID, "market_precision"),
    ]
    assert isinstance(found[3], OrderApproved)

    await publish(producer, listing("paper", "OTHER/USDT"))
    await eventually(
        lambda: safety.pool.fetchval(
            "SELECT count(*) FROM markets WHERE venue = 'paper' AND symbol = $1", symbol
        ),
        until=lambda count: count == 0,
        what=f"{symbol} no longer listed at safety",
    )
    await publish(producer, place(user, f"{user}-5", symbol=symbol, amount="5"))
    delisted = (await wait_for_decisions(safety.pool, user, 5))[4]
    assert isinstance(delisted, OrderRejected)
    assert (delisted.reason, delisted.rule) == (RejectReason.INVALID_SYMBOL, "symbol_listed")
