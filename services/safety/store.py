"""Safety's SQL for decisions and the account state the rules read.

Every method runs on the caller's connection, inside the transaction the inbox
opened, so a decision, its counters and its outbox message commit together.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import asyncpg

from services.safety.domain import (
    AccountState,
    KillSwitches,
    KillSwitchMode,
    KillSwitchScope,
    Position,
    PriceBook,
    ReferencePrice,
)
from shared.db import Connection

RECENT = timedelta(hours=1)
"""How far back the rolling windows look (the rules' longest: one hour)."""


_POSITION = """
SELECT
    held.quantity,
    held.average_cost_usd,
    (SELECT coalesce(sum(greatest(amount - filled_amount, 0)), 0) FROM order_decisions
     WHERE account_id = $1 AND base_asset = $2 AND open AND side = 'buy') AS open_buy
FROM (SELECT 1) AS one
LEFT JOIN positions AS held ON held.account_id = $1 AND held.asset = $2
"""


def _on(day: date, amount: Decimal | None) -> dict[date, Decimal]:
    return {} if amount is None else {day: amount}


def _position(row: asyncpg.Record) -> Position:
    if row["quantity"] is None:
        return Position(open_buy=row["open_buy"])
    return Position(row["quantity"], row["average_cost_usd"], row["open_buy"])


def _kill_switches(scopes: list[str], targets: list[str], modes: list[str]) -> KillSwitches:
    engaged = [
        ((KillSwitchScope(scope), target), KillSwitchMode(mode))
        for scope, target, mode in zip(scopes, targets, modes, strict=True)
    ]
    return KillSwitches(
        engaged=frozenset(switch for switch, _ in engaged),
        reduce_only=frozenset(s for s, mode in engaged if mode is KillSwitchMode.REDUCE_ONLY),
    )


def inputs_from(row: asyncpg.Record, today: date, asset: str | None) -> DecisionInputs:
    """A decision's inputs from its row of `store_decisions._DECISION_INPUTS` (on `today`,
    with its position in `asset`, if given)."""
    totals = dict(zip(row["total_kinds"], row["total_amounts"], strict=True))
    account = AccountState(
        registered=row["registered"],
        approvals=tuple(row["approvals"]),
        rejections=tuple(row["rejections"]),
        order_volume_usd=_on(today, totals.get("order_volume")),
        realised_pnl_usd=_on(today, totals.get("realised_pnl")),
        withdrawn_usd=_on(today, totals.get("withdrawn")),
        withdrawals=tuple(row["withdrawals"]),
        consecutive_failures=row["consecutive_failures"] or 0,
        last_failure_at=row["last_failure_at"],
        positions={asset: _position(row)} if asset is not None else {},
        validated_exchanges=frozenset(row["exchanges"]),
    )
    return DecisionInputs(
        account,
        dict(zip(row["limit_names"], row["limit_values"], strict=True)),
        _kill_switches(row["switch_scopes"], row["switch_targets"], row["switch_modes"]),
    )


@dataclass(frozen=True)
class DecisionInputs:
    """What one decision reads about its account and the switches (prices come separately)."""

    account: AccountState
    limit_overrides: dict[str, Decimal]
    switches: KillSwitches


class SafetyStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def lock_account(self, account_id: str) -> None:
        """Serialise every change to one account until the transaction ends (two instances
        of safety may briefly both hold a partition during a rebalance)."""
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", "safety:" + account_id
        )

    async def price_book(self, symbols: Iterable[str]) -> PriceBook:
        rows = await self._conn.fetch(
            "SELECT symbol, price, observed_at FROM reference_prices WHERE symbol = ANY($1)",
            sorted(set(symbols)),
        )
        return PriceBook({r["symbol"]: ReferencePrice(r["price"], r["observed_at"]) for r in rows})

    async def position(self, account_id: str, asset: str) -> Position:
        """The booked position plus what open approved buys may still add."""
        row = await self._conn.fetchrow(_POSITION, account_id, asset)
        assert row is not None
        return _position(row)

    async def add_daily(self, account_id: str, day: date, kind: str, amount: Decimal) -> None:
        await self._conn.execute(
            "INSERT INTO daily_totals (account_id, day, kind, amount_usd) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (account_id, day, kind) "
            "DO UPDATE SET amount_usd = daily_totals.amount_usd + EXCLUDED.amount_usd",
            account_id,
            day,
            kind,
            amount,
        )
