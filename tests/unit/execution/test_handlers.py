from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import cast

import pytest

from services.execution.domain.errors import InvalidKillSwitch, MalformedHold
from services.execution.domain.orders import OrderStatus, WithdrawalStatus, client_order_id
from services.execution.handlers import ExecutionHandler
from services.execution.venues.base import Venue
from shared.clock import utc_now
from shared.contracts.accounts import ExchangeKeyAdded, KillSwitchChanged, KillSwitchMode
from shared.contracts.envelope import Envelope, Payload, new_message
from shared.contracts.execution import (
    FillStatus,
    OrderCancelled,
    OrderFailed,
    OrderFilled,
    OrderOutcomeUnknown,
    OrderSubmitted,
    WithdrawalFailed,
    WithdrawalSent,
)
from shared.contracts.ledger import FundsHeld, HoldPurpose, HoldReleased
from shared.contracts.orders import (
    CancelAllAfterArmed,
    CancelOrder,
    Mode,
    OrderSpec,
    OrderType,
    Side,
)
from shared.contracts.reasons import RejectReason
from shared.contracts.wallet import WithdrawalSpec
from shared.db import Connection
from shared.emitter import Emitter
from tests.unit.execution.fakes import FakeStore, FakeVenue, Outbox

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CONN = cast(Connection, object())
"""Never used: the handler only hands its connection to the store, venue and outbox, all faked
here. `Connection` is asyncpg's concrete class (the stores use its whole surface), so no
small Protocol stands in for it honestly; hence the one `cast` left in the tests."""


class World:
    def __init__(self, parts: int = 1) -> None:
        self.store = FakeStore()
        self.venue = FakeVenue(parts=parts)
        self.outbox = Outbox()
        self.handler = ExecutionHandler(
            venue_for=self._venue_for,
            store_for=lambda conn: self.store,
            emitter=Emitter("execution", clock=lambda: NOW, enqueue=self.outbox),
        )

    def _venue_for(self, conn: Connection, name: str) -> Venue | None:
        return self.venue if name == "paper" else None

    async def deliver(
        self, payload: Payload, account: str = "alice", corr: str = "o-1"
    ) -> Envelope:
        message = new_message(
            payload, producer="test", account_id=account, correlation_id=corr, now=utc_now()
        )
        await self.handler(CONN, message)
        return message

    def payloads(self) -> list[Payload]:
        return [m.payload for m in self.outbox.messages]


def order_hold(
    order_id: str = "o-1",
    *,
    type: OrderType = OrderType.MARKET,
    price: str | None = None,
    mode: Mode = Mode.PAPER,
    exchange: str = "paper",
    side: Side = Side.BUY,
) -> FundsHeld:
    spec = OrderSpec(
        order_id=order_id,
        symbol="BTC/USDT",
        side=side,
        type=type,
        amount=Decimal("0.01"),
        price=Decimal(price) if price else None,
        mode=mode,
        exchange=exchange,
    )
    return FundsHeld(
        hold_id="h-" + order_id,
        purpose=HoldPurpose.ORDER,
        asset="USDT",
        amount=Decimal("700"),
        order=spec,
    )


def withdrawal_hold(exchange: str = "paper") -> FundsHeld:
    spec = WithdrawalSpec(
        withdrawal_id="w-1",
        asset="USDT",
        amount=Decimal("25"),
        address="0xabc",
        exchange=exchange,
    )
    return FundsHeld(
        hold_id="h-w-1",
        purpose=HoldPurpose.WITHDRAWAL,
        asset="USDT",
        amount=Decimal("25"),
        withdrawal=spec,
    )


async def test_a_market_order_is_submitted_then_filled_at_the_current_price() -> None:
    world = World()
    cause = await world.deliver(order_hold())

    submitted, filled = world.payloads()
    assert isinstance(submitted, OrderSubmitted)
    assert submitted.client_order_id == client_order_id("o-1")
    assert isinstance(filled, OrderFilled)
    assert (filled.amount, filled.price, filled.fee) == (
        Decimal("0.01"),
        Decimal("65000.00"),
        Decimal("0.65"),
    )
    assert filled.status is FillStatus.FILLED and filled.fee_asset == "USDT"
    for message in world.outbox.messages:
        assert message.producer == "execution"
        assert (message.account_id, message.correlation_id) == ("alice", "o-1")
        assert message.causation_id == cause.event_id
    assert world.store.orders["o-1"].status is OrderStatus.FILLED


async def test_a_redelivered_funds_held_places_the_order_once() -> None:
    world = World()
    await world.deliver(order_hold())
    await world.deliver(order_hold())  # a new envelope: the inbox cannot tell it is the same

    assert len(world.venue.placed) == 1
    assert world.outbox.types() == ["OrderSubmitted", "OrderFilled"]


async def test_a_partial_fill_setting_reports_each_trade_once_in_order() -> None:
    world = World(parts=3)
    await world.deliver(order_hold())

    fills = [p for p in world.payloads() if isinstance(p, OrderFilled)]
    assert [f.status for f in fills] == [FillStatus.PARTIALLY_FILLED] * 2 + [FillStatus.FILLED]
    assert fills[-1].cumulative_amount == Decimal("0.01")
    assert sum(f.fee for f in fills) == Decimal("0.65")


async def test_a_limit_order_away_from_the_market_rests_open() -> None:
    world = World()
    await world.deliver(order_hold(type=OrderType.LIMIT, price="60000.00"))

    assert world.outbox.types() == ["OrderSubmitted"]
    assert world.store.orders["o-1"].status is OrderStatus.OPEN


async def test_cancelling_a_resting_order_cancels_it() -> None:
    world = World()
    await world.deliver(order_hold(type=OrderType.LIMIT, price="60000.00"))
    await world.deliver(CancelOrder(order_id="o-1"))

    assert isinstance(world.payloads()[-1], OrderCancelled)
    assert world.store.orders["o-1"].status is OrderStatus.CANCELLED


async def test_cancelling_a_filled_order_does_nothing() -> None:
    world = World()
    await world.deliver(order_hold())
    await world.deliver(CancelOrder(order_id="o-1"))

    assert world.outbox.types() == ["OrderSubmitted", "OrderFilled"]


async def test_a_cancel_that_arrives_before_the_funds_cancels_without_placing() -> None:
    world = World()
    await world.deliver(CancelOrder(order_id="o-1"))
    assert world.outbox.messages == []
    await world.deliver(order_hold())

    assert world.venue.placed == []
    assert world.outbox.types() == ["OrderCancelled"]
    assert world.store.orders["o-1"].status is OrderStatus.CANCELLED


async def test_another_users_cancel_does_not_touch_the_order() -> None:
    world = World()
    await world.deliver(CancelOrder(order_id="o-1"), account="mallory")
    await world.deliver(order_hold())

    assert world.outbox.types() == ["OrderSubmitted", "OrderFilled"]


async def test_a_venue_refusal_fails_the_order_with_exchange_rejected() -> None:
    world = World()
    world.venue.refuse = "insufficient balance"
    await world.deliver(order_hold())

    (failed,) = world.payloads()
    assert isinstance(failed, OrderFailed)
    assert failed.reason is RejectReason.EXCHANGE_REJECTED
    assert failed.detail == "insufficient balance"
    assert world.store.orders["o-1"].status is OrderStatus.FAILED


async def test_a_timeout_makes_the_outcome_unknown_and_is_not_retried() -> None:
    world = World()
    world.venue.time_out = True
    await world.deliver(order_hold())
    world.venue.time_out = False
    await world.deliver(order_hold())

    (unknown,) = world.payloads()
    assert isinstance(unknown, OrderOutcomeUnknown)
    assert unknown.client_order_id == client_order_id("o-1")
    assert world.store.orders["o-1"].status is OrderStatus.UNKNOWN
    assert world.venue.placed == []


async def test_a_real_money_order_without_a_validated_key_fails_and_is_never_sent() -> None:
    world = World()
    await world.deliver(order_hold(mode=Mode.REAL, exchange="binance"))

    (failed,) = world.payloads()
    assert isinstance(failed, OrderFailed) and failed.reason is RejectReason.EXCHANGE_KEY_INVALID
    assert world.store.orders["o-1"].status is OrderStatus.FAILED
    assert world.venue.placed == []


async def test_a_real_money_order_with_a_validated_key_waits_pending_for_the_sender() -> None:
    world = World()
    world.store.valid_keys.add(("alice", "binance"))
    await world.deliver(order_hold(mode=Mode.REAL, exchange="binance"))

    assert world.outbox.messages == []  # nothing is sent inside the inbox transaction
    assert world.store.orders["o-1"].status is OrderStatus.PENDING
    assert world.venue.placed == []


async def test_a_real_money_order_to_an_exchange_ccxt_does_not_know_fails() -> None:
    world = World()
    await world.deliver(order_hold(mode=Mode.REAL, exchange="nosuchexchange"))

    (failed,) = world.payloads()
    assert isinstance(failed, OrderFailed) and failed.reason is RejectReason.EXCHANGE_REJECTED


async def test_cancelling_an_order_at_a_network_venue_only_marks_it_for_the_sender() -> None:
    world = World()
    world.store.valid_keys.add(("alice", "binance"))
    await world.deliver(order_hold(mode=Mode.REAL, exchange="binance"))
    await world.deliver(CancelOrder(order_id="o-1"))

    assert world.store.cancel_requested == {"o-1"}
    assert world.outbox.messages == []


async def test_an_engaged_account_kill_switch_cancels_that_accounts_resting_orders() -> None:
    world = World()
    await world.deliver(order_hold("o-1", type=OrderType.LIMIT, price="60000.00"))
    await world.deliver(order_hold("o-2", type=OrderType.LIMIT, price="60000.00"), account="bob")
    switch = KillSwitchChanged(
        scope="account", target="alice", engaged=True, reason="fraud", changed_by="admin"
    )
    await world.deliver(switch, account="system")

    cancelled = [p for p in world.payloads() if isinstance(p, OrderCancelled)]
    assert [(c.order_id, c.reason) for c in cancelled] == [("o-1", "kill_switch")]
    assert world.store.orders["o-2"].status is OrderStatus.OPEN


async def test_a_reduce_only_switch_cancels_the_open_buys_and_keeps_the_sells() -> None:
    world = World()
    await world.deliver(order_hold("o-buy", type=OrderType.LIMIT, price="60000.00"))
    await world.deliver(
        order_hold("o-sell", type=OrderType.LIMIT, price="70000.00", side=Side.SELL)
    )
    switch = KillSwitchChanged(
        scope="symbol",
        target="BTC/USDT",
        engaged=True,
        reason="wind down",
        changed_by="admin",
        mode=KillSwitchMode.REDUCE_ONLY,
    )
    await world.deliver(switch, account="system")

    cancelled = [p for p in world.payloads() if isinstance(p, OrderCancelled)]
    assert [(c.order_id, c.reason) for c in cancelled] == [("o-buy", "kill_switch")]
    assert world.store.orders["o-sell"].status is OrderStatus.OPEN


def account_switch(engaged: bool, mode: KillSwitchMode = KillSwitchMode.HALT) -> KillSwitchChanged:
    return KillSwitchChanged(
        scope="account",
        target="alice",
        engaged=engaged,
        reason="drill",
        changed_by="admin",
        mode=mode,
    )


async def test_an_order_arriving_after_its_switch_is_cancelled_without_reaching_the_venue() -> None:
    world = World()
    await world.deliver(account_switch(True), account="alice")
    await world.deliver(order_hold("o-late", type=OrderType.LIMIT, price="60000.00"))

    assert world.venue.placed == []
    assert world.store.orders["o-late"].status is OrderStatus.CANCELLED
    assert [(type(p), getattr(p, "reason", None)) for p in world.payloads()] == [
        (OrderCancelled, "kill_switch")
    ]


async def test_after_a_reduce_only_switch_a_late_buy_is_cancelled_and_a_late_sell_placed() -> None:
    world = World()
    await world.deliver(account_switch(True, KillSwitchMode.REDUCE_ONLY), account="alice")
    await world.deliver(order_hold("o-buy", type=OrderType.LIMIT, price="60000.00"))
    await world.deliver(
        order_hold("o-sell", type=OrderType.LIMIT, price="70000.00", side=Side.SELL)
    )

    assert [r.client_order_id for r in world.venue.placed] == [client_order_id("o-sell")]
    assert world.store.orders["o-buy"].status is OrderStatus.CANCELLED


async def test_a_released_switch_lets_the_next_order_through_and_an_older_engage_does_not() -> None:
    world = World()
    engaged = new_message(
        account_switch(True), producer="test", account_id="alice", correlation_id="k", now=utc_now()
    )
    released = new_message(
        account_switch(False),
        producer="test",
        account_id="alice",
        correlation_id="k",
        now=utc_now(),
    )
    await world.handler(CONN, released)
    await world.handler(CONN, engaged)  # older than the release: changes nothing
    await world.deliver(order_hold("o-1", type=OrderType.LIMIT, price="60000.00"))

    assert world.store.orders["o-1"].status is OrderStatus.OPEN


async def test_the_newest_dead_man_arming_is_kept_by_the_gateways_time() -> None:
    world = World()

    def arming(seconds: int, at: datetime) -> Envelope:
        until = at + timedelta(seconds=seconds) if seconds else None
        payload = CancelAllAfterArmed(timeout_seconds=seconds, armed_until=until)
        return new_message(
            payload, producer="gateway", account_id="alice", correlation_id="c", now=at
        )

    later = NOW + timedelta(seconds=5)
    await world.handler(CONN, arming(60, later))
    await world.handler(CONN, arming(0, NOW))  # older, delivered late: ignored

    assert world.store.dead_man == {"alice": (later, later + timedelta(seconds=60))}
    assert world.outbox.messages == []


@pytest.mark.parametrize(("scope", "target"), [("planet", "x"), ("account", None)])
async def test_a_switch_no_service_enforces_cancels_nothing_and_is_refused(
    scope: str, target: str | None
) -> None:
    world = World()
    await world.deliver(order_hold("o-1", type=OrderType.LIMIT, price="60000.00"))
    switch = KillSwitchChanged(
        scope=scope, target=target, engaged=True, reason="typo", changed_by="admin"
    )
    with pytest.raises(InvalidKillSwitch):
        await world.deliver(switch, account="system")
    assert world.store.orders["o-1"].status is OrderStatus.OPEN


async def test_an_exchange_key_is_kept_sealed_for_the_background_check() -> None:
    world = World()
    added = ExchangeKeyAdded(key_id="k-1", exchange="binance", sealed_secret="gAAAA-sealed")
    await world.deliver(added, corr="k-1")

    assert world.store.keys == {"k-1": ("alice", "binance", "gAAAA-sealed")}
    assert world.outbox.messages == []


async def test_a_withdrawal_to_a_network_venue_needs_a_validated_key() -> None:
    world = World()
    await world.deliver(withdrawal_hold(exchange="binance"), corr="w-1")
    (failed,) = world.payloads()
    assert isinstance(failed, WithdrawalFailed)
    assert failed.reason is RejectReason.EXCHANGE_KEY_INVALID

    other = World()
    other.store.valid_keys.add(("alice", "binance"))
    await other.deliver(withdrawal_hold(exchange="binance"), corr="w-1")
    assert other.outbox.messages == []
    assert other.store.withdrawals["w-1"][1] is WithdrawalStatus.PENDING


async def test_a_paper_order_cannot_be_sent_to_a_real_exchange() -> None:
    world = World()
    await world.deliver(order_hold(exchange="binance"))

    assert world.outbox.types() == ["OrderFailed"]
    assert world.venue.placed == []


async def test_a_held_withdrawal_is_sent_once_with_a_txid() -> None:
    world = World()
    await world.deliver(withdrawal_hold(), corr="w-1")
    await world.deliver(withdrawal_hold(), corr="w-1")

    (sent,) = world.payloads()
    assert isinstance(sent, WithdrawalSent)
    assert (sent.withdrawal_id, sent.amount, sent.txid) == ("w-1", Decimal("25"), "tx-w-1")
    assert world.outbox.messages[0].correlation_id == "w-1"
    assert world.store.withdrawals["w-1"][1] is WithdrawalStatus.SENT
    assert len(world.venue.sent) == 1


async def test_a_withdrawal_to_an_unknown_venue_fails() -> None:
    world = World()
    await world.deliver(withdrawal_hold(exchange="nosuchexchange"), corr="w-1")

    (failed,) = world.payloads()
    assert isinstance(failed, WithdrawalFailed)
    assert failed.reason is RejectReason.EXCHANGE_REJECTED


async def test_a_hold_without_its_order_is_refused() -> None:
    world = World()
    broken = FundsHeld(hold_id="h", purpose=HoldPurpose.ORDER, asset="USDT", amount=Decimal(1))
    with pytest.raises(MalformedHold):
        await world.deliver(broken)
    assert world.outbox.messages == []


async def test_other_ledger_events_are_ignored() -> None:
    world = World()
    await world.deliver(HoldReleased(hold_id="h", asset="USDT", amount=Decimal(1), reason="filled"))
    assert world.outbox.messages == []
