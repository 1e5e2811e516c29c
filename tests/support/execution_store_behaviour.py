"""What execution's handlers rely on of an `ExecutionStore`, written once and run against every
implementation (as pyeventsourcing's `tests/persistence.py` does), so the in-memory fake the
unit tests use cannot drift from the PostgreSQL store.

A subclass named `Test...` provides the `store` fixture (a fresh, empty store, one transaction
for PostgreSQL) and `withdrawal_outcome` (the protocol has no read for withdrawals: each
implementation says how it keeps one)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.execution.domain.orders import (
    OrderRecord,
    OrderStatus,
    Trade,
    WithdrawalRecord,
    WithdrawalStatus,
)
from services.execution.store import ExecutionStore
from shared.contracts.accounts import KillSwitchMode, KillSwitchScope
from shared.contracts.orders import OrderType, Side

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
LATER = datetime(2100, 1, 1, tzinfo=UTC)
"""After any order a test records (`orders_in_scope` takes those created before a moment)."""


def an_order(order_id: str = "o-1", **changes: Any) -> OrderRecord:
    order = OrderRecord(
        order_id=order_id,
        account_id="alice",
        client_order_id="c-" + order_id,
        venue="paper",
        symbol="BTC/USDT",
        side=Side.BUY,
        type=OrderType.LIMIT,
        amount=Decimal("0.01"),
        price=Decimal("65000.5"),
        status=OrderStatus.PENDING,
        filled_amount=Decimal(0),
    )
    return replace(order, **changes)


def a_trade(trade_id: str = "t-1") -> Trade:
    return Trade(trade_id, Decimal("0.004"), Decimal("65000.5"), Decimal("0.26"), "USDT")


def a_withdrawal(withdrawal_id: str = "w-1") -> WithdrawalRecord:
    return WithdrawalRecord(withdrawal_id, "alice", "binance", "USDT", Decimal("25.5"), "T9", None)


class ExecutionStoreBehaviour:
    async def withdrawal_outcome(
        self, store: ExecutionStore, withdrawal_id: str
    ) -> tuple[WithdrawalStatus, str | None]:
        """The withdrawal's status and txid as the store keeps them."""
        raise NotImplementedError

    async def test_an_order_is_recorded_once(self, store: ExecutionStore) -> None:
        order = an_order()
        assert await store.insert_order(order)
        assert not await store.insert_order(replace(order, amount=Decimal(7)))
        assert await store.order("o-1", lock=False) == order
        assert await store.order("o-unknown", lock=False) is None

    async def test_an_order_is_found_by_its_client_order_id(self, store: ExecutionStore) -> None:
        order = an_order()
        await store.insert_order(order)
        assert await store.order_by_client_id("c-o-1") == order
        assert await store.order_by_client_id("c-unknown") is None

    async def test_a_claimed_order_reads_back_locked(self, store: ExecutionStore) -> None:
        await store.insert_order(an_order())
        await store.claim("o-1")
        await store.claim("o-1")  # the transaction holding it may claim it again
        assert await store.order("o-1", lock=True) == an_order()

    async def test_a_saved_state_keeps_the_venue_order_id_when_none_is_given(
        self, store: ExecutionStore
    ) -> None:
        await store.insert_order(an_order())
        await store.save_order_state("o-1", OrderStatus.OPEN, Decimal("0.004"), "v-1")
        await store.save_order_state("o-1", OrderStatus.FILLED, Decimal("0.01"), None)
        assert await store.order("o-1", lock=False) == an_order(
            status=OrderStatus.FILLED, filled_amount=Decimal("0.01"), venue_order_id="v-1"
        )

    async def test_a_venue_trade_is_recorded_once(self, store: ExecutionStore) -> None:
        await store.insert_order(an_order())
        assert await store.record_fill("o-1", "paper", a_trade())
        assert not await store.record_fill("o-1", "paper", a_trade())
        assert await store.record_fill("o-1", "binance", a_trade()), "another venue's trade"

    async def test_an_early_cancel_is_taken_once_for_whoever_asked_first(
        self, store: ExecutionStore
    ) -> None:
        await store.remember_cancel("o-1", "alice")
        await store.remember_cancel("o-1", "mallory")
        assert await store.take_early_cancel("o-1") == "alice"
        assert await store.take_early_cancel("o-1") is None

    async def test_orders_in_scope_are_the_open_ones_of_that_scope(
        self, store: ExecutionStore
    ) -> None:
        await store.insert_order(an_order("o-1"))
        await store.insert_order(an_order("o-2", status=OrderStatus.OPEN, side=Side.SELL))
        await store.insert_order(an_order("o-3", status=OrderStatus.FILLED))
        await store.insert_order(an_order("o-4", account_id="bob", symbol="ETH/USDT"))

        async def ids(
            account_id: str | None = None, symbol: str | None = None, side: Side | None = None
        ) -> set[str]:
            found = await store.orders_in_scope(
                account_id=account_id, symbol=symbol, side=side, created_before=LATER
            )
            return {o.order_id for o in found}

        assert await ids() == {"o-1", "o-2", "o-4"}
        assert await ids(account_id="alice") == {"o-1", "o-2"}
        assert await ids(symbol="ETH/USDT") == {"o-4"}
        assert await ids(account_id="alice", side=Side.SELL) == {"o-2"}

    async def test_a_kill_switch_change_applies_only_when_newer(
        self, store: ExecutionStore
    ) -> None:
        async def save(engaged: bool, at: datetime) -> bool:
            return await store.save_kill_switch(
                KillSwitchScope.ACCOUNT,
                "alice",
                engaged=engaged,
                mode=KillSwitchMode.HALT,
                changed_at=at,
            )

        assert await save(True, T0)
        assert not await save(False, T0), "as new: not applied"
        assert not await save(False, T0 - timedelta(seconds=1)), "older: not applied"
        assert await store.engaged_switch_modes("alice", "BTC/USDT") == [KillSwitchMode.HALT]
        assert await save(False, T0 + timedelta(seconds=1))
        assert await store.engaged_switch_modes("alice", "BTC/USDT") == []

    async def test_the_engaged_switches_covering_an_order_give_their_modes(
        self, store: ExecutionStore
    ) -> None:
        switches = [
            (KillSwitchScope.GLOBAL, "", True, KillSwitchMode.REDUCE_ONLY),
            (KillSwitchScope.ACCOUNT, "alice", True, KillSwitchMode.HALT),
            (KillSwitchScope.ACCOUNT, "bob", False, KillSwitchMode.HALT),
            (KillSwitchScope.SYMBOL, "ETH/USDT", True, KillSwitchMode.HALT),
        ]
        for scope, target, engaged, mode in switches:
            await store.save_kill_switch(scope, target, engaged=engaged, mode=mode, changed_at=T0)

        alice = await store.engaged_switch_modes("alice", "BTC/USDT")
        bob = await store.engaged_switch_modes("bob", "ETH/USDT")
        assert sorted(alice) == sorted([KillSwitchMode.REDUCE_ONLY, KillSwitchMode.HALT])
        assert sorted(bob) == sorted([KillSwitchMode.REDUCE_ONLY, KillSwitchMode.HALT])
        assert await store.engaged_switch_modes("carol", "BTC/USDT") == [KillSwitchMode.REDUCE_ONLY]

    async def test_a_dead_mans_switch_arming_applies_only_when_newer(
        self, store: ExecutionStore
    ) -> None:
        assert await store.arm_cancel_all_after("alice", T0, T0 + timedelta(minutes=1))
        assert not await store.arm_cancel_all_after("alice", T0, None)
        assert not await store.arm_cancel_all_after("alice", T0 - timedelta(seconds=1), None)
        assert await store.arm_cancel_all_after("alice", T0 + timedelta(seconds=1), None)

    async def test_a_withdrawal_is_recorded_once_and_finished(self, store: ExecutionStore) -> None:
        assert await store.insert_withdrawal(a_withdrawal())
        assert not await store.insert_withdrawal(replace(a_withdrawal(), amount=Decimal(1)))
        assert await self.withdrawal_outcome(store, "w-1") == (WithdrawalStatus.PENDING, None)
        await store.finish_withdrawal("w-1", WithdrawalStatus.SENT, "tx-1", None)
        assert await self.withdrawal_outcome(store, "w-1") == (WithdrawalStatus.SENT, "tx-1")
