"""Safety's SQL for deciding a run of requests at once, each of another account: one statement
per table read or written, whatever the run's length.

Runs on the caller's connection inside the inbox's transaction, with every account of the run
locked first (`lock_accounts`), so each decision sees every earlier one of its account.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from services.safety.domain import (
    OrderDecision,
    PriceBook,
    ReferencePrice,
    WithdrawalDecision,
    utc_day,
)
from services.safety.domain.markets import MarketListing, MarketRules
from services.safety.store import RECENT, DecisionInputs, inputs_from
from shared.contracts.decisions import OrderRejected, WithdrawalRejected
from shared.contracts.orders import OrderSpec
from shared.contracts.wallet import WithdrawalSpec
from shared.db import Connection

_DECISION_INPUTS = """
WITH switches AS (
    SELECT coalesce(array_agg(scope ORDER BY scope, target), '{}') AS switch_scopes,
           coalesce(array_agg(target ORDER BY scope, target), '{}') AS switch_targets,
           coalesce(array_agg(mode ORDER BY scope, target), '{}') AS switch_modes
    FROM kill_switches WHERE engaged
)
SELECT
    q.account_id,
    EXISTS(SELECT 1 FROM known_accounts WHERE account_id = q.account_id) AS registered,
    ARRAY(SELECT requested_at FROM order_decisions
          WHERE account_id = q.account_id AND requested_at > q.since AND approved) AS approvals,
    ARRAY(SELECT requested_at FROM order_decisions
          WHERE account_id = q.account_id AND requested_at > q.since AND NOT approved)
        AS rejections,
    ARRAY(SELECT requested_at FROM withdrawal_decisions
          WHERE account_id = q.account_id AND requested_at > q.since AND approved) AS withdrawals,
    ARRAY(SELECT kind FROM daily_totals
          WHERE account_id = q.account_id AND day = $3 ORDER BY kind) AS total_kinds,
    ARRAY(SELECT amount_usd FROM daily_totals
          WHERE account_id = q.account_id AND day = $3 ORDER BY kind) AS total_amounts,
    ARRAY(SELECT DISTINCT exchange FROM exchange_keys
          WHERE account_id = q.account_id AND valid) AS exchanges,
    ARRAY(SELECT name FROM limit_overrides WHERE account_id = q.account_id ORDER BY name)
        AS limit_names,
    ARRAY(SELECT value FROM limit_overrides WHERE account_id = q.account_id ORDER BY name)
        AS limit_values,
    switches.switch_scopes,
    switches.switch_targets,
    switches.switch_modes,
    streak.consecutive_failures,
    streak.last_failure_at,
    held.quantity,
    held.average_cost_usd,
    (SELECT coalesce(sum(greatest(amount - filled_amount, 0)), 0) FROM order_decisions
     WHERE account_id = q.account_id AND base_asset = q.asset AND open AND side = 'buy')
        AS open_buy
FROM unnest($1::text[], $2::timestamptz[], $4::text[]) AS q(account_id, since, asset)
CROSS JOIN switches
LEFT JOIN failure_streaks AS streak ON streak.account_id = q.account_id
LEFT JOIN positions AS held ON held.account_id = q.account_id AND held.asset = q.asset
"""
"""`store._DECISION_INPUTS` for many accounts (each with its window's start and the base
asset of its order, NULL for a withdrawal) on one day ($3), in one statement."""

_MARKETS = """
SELECT q.venue, q.symbol AS asked, EXISTS (SELECT 1 FROM markets WHERE venue = q.venue)
    AS venue_known, m.symbol, m.amount_min, m.amount_max, m.cost_min, m.cost_max,
    m.amount_step, m.price_step
FROM unnest($1::text[], $2::text[]) AS q(venue, symbol)
LEFT JOIN markets AS m ON m.venue = q.venue AND m.symbol = q.symbol
"""

_ORDER_COLUMNS = (
    "order_id, account_id, symbol, base_asset, side, amount, decided_at, approved, reason, "
    "rule, notional_usd, quote_usd_rate, open, requested_at, order_type, price, mode, "
    "exchange, accepted_at"
)
_ORDER_TYPES = (
    "text[], text[], text[], text[], text[], numeric[], timestamptz[], boolean[], text[], "
    "text[], numeric[], numeric[], boolean[], timestamptz[], text[], numeric[], text[], "
    "text[], timestamptz[]"
)
_WITHDRAWAL_COLUMNS = (
    "withdrawal_id, account_id, asset, amount, decided_at, approved, reason, rule, "
    "amount_usd, requested_at"
)
_WITHDRAWAL_TYPES = (
    "text[], text[], text[], numeric[], timestamptz[], boolean[], text[], text[], "
    "numeric[], timestamptz[]"
)


def _insert(table: str, columns: str, types: str) -> str:
    arrays = ", ".join(f"${n}::{t.strip()}" for n, t in enumerate(types.split(","), start=1))
    return f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays})"


@dataclass(frozen=True)
class DecidedOrder:
    """An order decided in memory, to be stored with the rest of its run."""

    account_id: str
    order: OrderSpec
    decision: OrderDecision
    requested_at: datetime
    accepted_at: datetime


@dataclass(frozen=True)
class DecidedWithdrawal:
    account_id: str
    withdrawal: WithdrawalSpec
    decision: WithdrawalDecision
    requested_at: datetime


class DecisionStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def lock_accounts(self, account_ids: Sequence[str]) -> None:
        """`SafetyStore.lock_account` for each, in one statement, in a fixed order (sorted)."""
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest($1::text[]) AS k",
            sorted("safety:" + account_id for account_id in set(account_ids)),
        )

    async def decided(
        self, order_ids: Sequence[str], withdrawal_ids: Sequence[str]
    ) -> tuple[set[str], set[str]]:
        """Which of these orders and withdrawals are decided already."""
        rows = await self._conn.fetch(
            "SELECT true AS is_order, order_id AS id FROM order_decisions "
            "WHERE order_id = ANY($1::text[]) UNION ALL "
            "SELECT false, withdrawal_id FROM withdrawal_decisions "
            "WHERE withdrawal_id = ANY($2::text[])",
            list(order_ids),
            list(withdrawal_ids),
        )
        return {r["id"] for r in rows if r["is_order"]}, {
            r["id"] for r in rows if not r["is_order"]
        }

    async def decision_inputs(
        self,
        now: datetime,
        asked: Sequence[tuple[str, datetime, str | None]],
        today: date,
    ) -> dict[str, DecisionInputs]:
        """`SafetyStore.decision_inputs` for each (account, request time, base asset or None)
        of the run (each account once), by account."""
        rows = await self._conn.fetch(
            _DECISION_INPUTS,
            [account_id for account_id, _, _ in asked],
            [min(now, requested_at) - RECENT for _, requested_at, _ in asked],
            today,
            [asset for _, _, asset in asked],
        )
        assets = {account_id: asset for account_id, _, asset in asked}
        return {r["account_id"]: inputs_from(r, today, assets[r["account_id"]]) for r in rows}

    async def prices(self, symbols: set[str]) -> dict[str, ReferencePrice]:
        rows = await self._conn.fetch(
            "SELECT symbol, price, observed_at FROM reference_prices WHERE symbol = ANY($1)",
            sorted(symbols),
        )
        return {r["symbol"]: ReferencePrice(r["price"], r["observed_at"]) for r in rows}

    async def markets(self, asked: set[tuple[str, str]]) -> dict[tuple[str, str], MarketListing]:
        """`SafetyStore.market` for each (venue, symbol)."""
        pairs = sorted(asked)
        rows = await self._conn.fetch(
            _MARKETS, [venue for venue, _ in pairs], [symbol for _, symbol in pairs]
        )
        listings: dict[tuple[str, str], MarketListing] = {}
        for row in rows:
            rules = None
            if row["symbol"] is not None:
                fields = dataclasses.fields(MarketRules)
                rules = MarketRules(**{f.name: row[f.name] for f in fields})
            listings[row["venue"], row["asked"]] = MarketListing(
                venue_known=row["venue_known"] or rules is not None, rules=rules
            )
        return listings

    async def record_orders(self, now: datetime, decided: Sequence[DecidedOrder]) -> None:
        """`SafetyStore.record_order` for each (each account once), one statement per table."""
        rows = []
        for d in decided:
            outcome, valuation, order = d.decision.outcome, d.decision.valuation, d.order
            rejected = outcome if isinstance(outcome, OrderRejected) else None
            notional = valuation.notional_usd if d.decision.approved and valuation else None
            rows.append(
                (
                    order.order_id,
                    d.account_id,
                    order.symbol,
                    order.base,
                    order.side.value,
                    order.amount,
                    now,
                    d.decision.approved,
                    rejected.reason.value if rejected else None,
                    rejected.rule if rejected else None,
                    notional,
                    valuation.quote_usd if valuation else None,
                    d.decision.approved,
                    d.requested_at,
                    order.type.value,
                    order.price,
                    order.mode.value,
                    order.exchange,
                    d.accepted_at,
                )
            )
        await self._insert_rows(_insert("order_decisions", _ORDER_COLUMNS, _ORDER_TYPES), rows)
        await self._add_daily(now, "order_volume", [(r[1], r[10]) for r in rows])

    async def record_withdrawals(self, now: datetime, decided: Sequence[DecidedWithdrawal]) -> None:
        """`SafetyStore.record_withdrawal` for each (each account once), one statement per table."""
        rows = []
        for d in decided:
            outcome = d.decision.outcome
            rejected = outcome if isinstance(outcome, WithdrawalRejected) else None
            rows.append(
                (
                    d.withdrawal.withdrawal_id,
                    d.account_id,
                    d.withdrawal.asset,
                    d.withdrawal.amount,
                    now,
                    d.decision.approved,
                    rejected.reason.value if rejected else None,
                    rejected.rule if rejected else None,
                    d.decision.amount_usd if d.decision.approved else None,
                    d.requested_at,
                )
            )
        statement = _insert("withdrawal_decisions", _WITHDRAWAL_COLUMNS, _WITHDRAWAL_TYPES)
        await self._insert_rows(statement, rows)
        await self._add_daily(now, "withdrawn", [(r[1], r[8]) for r in rows])

    async def _insert_rows(self, statement: str, rows: Sequence[tuple[object, ...]]) -> None:
        if rows:
            await self._conn.execute(
                statement, *(list(column) for column in zip(*rows, strict=True))
            )

    async def _add_daily(
        self, now: datetime, kind: str, amounts: list[tuple[object, Decimal | None]]
    ) -> None:
        """`SafetyStore.add_daily` of each approval (an account once per run)."""
        counted = [(account_id, amount) for account_id, amount in amounts if amount is not None]
        if not counted:
            return
        await self._conn.execute(
            "INSERT INTO daily_totals (account_id, day, kind, amount_usd) "
            "SELECT a, $2, $3, x FROM unnest($1::text[], $4::numeric[]) AS q(a, x) "
            "ON CONFLICT (account_id, day, kind) "
            "DO UPDATE SET amount_usd = daily_totals.amount_usd + EXCLUDED.amount_usd",
            [account_id for account_id, _ in counted],
            utc_day(now),
            kind,
            [amount for _, amount in counted],
        )


def book_for(prices: dict[str, ReferencePrice], symbols: Sequence[str]) -> PriceBook:
    """The price book one decision would have loaded alone: only its own symbols."""
    return PriceBook({s: prices[s] for s in sorted(set(symbols)) if s in prices})
