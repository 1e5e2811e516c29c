"""Safety's SQL for decisions and the account state the rules read.

Every method runs on the caller's connection, inside the transaction the inbox
opened, so a decision, its counters and its outbox message commit together.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import asyncpg

from services.safety.domain import (
    AccountState,
    KillSwitches,
    KillSwitchMode,
    KillSwitchScope,
    OrderDecision,
    Position,
    PriceBook,
    ReferencePrice,
    WithdrawalDecision,
    utc_day,
)
from services.safety.domain.markets import MarketListing, MarketRules
from shared.contracts.decisions import OrderRejected, WithdrawalRejected
from shared.contracts.orders import OrderSpec
from shared.contracts.wallet import WithdrawalSpec
from shared.db import Connection

RECENT = timedelta(hours=1)
"""How far back the rolling windows look (the rules' longest: one hour)."""


_DECISION_INPUTS = """
SELECT
    EXISTS(SELECT 1 FROM known_accounts WHERE account_id = $1) AS registered,
    ARRAY(SELECT requested_at FROM order_decisions
          WHERE account_id = $1 AND requested_at > $2 AND approved) AS approvals,
    ARRAY(SELECT requested_at FROM order_decisions
          WHERE account_id = $1 AND requested_at > $2 AND NOT approved) AS rejections,
    ARRAY(SELECT requested_at FROM withdrawal_decisions
          WHERE account_id = $1 AND requested_at > $2 AND approved) AS withdrawals,
    ARRAY(SELECT kind FROM daily_totals
          WHERE account_id = $1 AND day = $3 ORDER BY kind) AS total_kinds,
    ARRAY(SELECT amount_usd FROM daily_totals
          WHERE account_id = $1 AND day = $3 ORDER BY kind) AS total_amounts,
    ARRAY(SELECT DISTINCT exchange FROM exchange_keys
          WHERE account_id = $1 AND valid) AS exchanges,
    ARRAY(SELECT name FROM limit_overrides WHERE account_id = $1 ORDER BY name) AS limit_names,
    ARRAY(SELECT value FROM limit_overrides WHERE account_id = $1 ORDER BY name) AS limit_values,
    ARRAY(SELECT scope FROM kill_switches WHERE engaged ORDER BY scope, target) AS switch_scopes,
    ARRAY(SELECT target FROM kill_switches WHERE engaged ORDER BY scope, target) AS switch_targets,
    ARRAY(SELECT mode FROM kill_switches WHERE engaged ORDER BY scope, target) AS switch_modes,
    streak.consecutive_failures,
    streak.last_failure_at,
    held.quantity,
    held.average_cost_usd,
    (SELECT coalesce(sum(greatest(amount - filled_amount, 0)), 0) FROM order_decisions
     WHERE account_id = $1 AND base_asset = $4 AND open AND side = 'buy') AS open_buy
FROM (SELECT 1) AS one
LEFT JOIN failure_streaks AS streak ON streak.account_id = $1
LEFT JOIN positions AS held ON held.account_id = $1 AND held.asset = $4
"""
"""One round trip for everything a decision reads but prices ($4: the order's base asset)."""

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

    async def order_decided(self, order_id: str) -> bool:
        return bool(
            await self._conn.fetchval("SELECT 1 FROM order_decisions WHERE order_id = $1", order_id)
        )

    async def withdrawal_decided(self, withdrawal_id: str) -> bool:
        return bool(
            await self._conn.fetchval(
                "SELECT 1 FROM withdrawal_decisions WHERE withdrawal_id = $1", withdrawal_id
            )
        )

    async def price_book(self, symbols: Iterable[str]) -> PriceBook:
        rows = await self._conn.fetch(
            "SELECT symbol, price, observed_at FROM reference_prices WHERE symbol = ANY($1)",
            sorted(set(symbols)),
        )
        return PriceBook({r["symbol"]: ReferencePrice(r["price"], r["observed_at"]) for r in rows})

    async def market(self, venue: str, symbol: str) -> MarketListing:
        row = await self._conn.fetchrow(
            "SELECT EXISTS (SELECT 1 FROM markets WHERE venue = $1) AS venue_known, "
            "m.symbol, m.amount_min, m.amount_max, m.cost_min, m.cost_max, m.amount_step, "
            "m.price_step FROM (SELECT 1) AS one "
            "LEFT JOIN markets AS m ON m.venue = $1 AND m.symbol = $2",
            venue,
            symbol,
        )
        assert row is not None
        if row["symbol"] is None:
            return MarketListing(venue_known=row["venue_known"], rules=None)
        rules = MarketRules(**{f.name: row[f.name] for f in dataclasses.fields(MarketRules)})
        return MarketListing(venue_known=True, rules=rules)

    async def decision_inputs(
        self,
        account_id: str,
        now: datetime,
        asset: str | None = None,
        *,
        requested_at: datetime | None = None,
    ) -> DecisionInputs:
        """The account's recent history at `now` (its position in `asset`, if given; its
        rolling windows back from `requested_at`, or `now`), whether it is registered, its
        limit overrides and every engaged kill switch, in one round trip."""
        today = utc_day(now)
        since = min(now, requested_at or now) - RECENT
        row = await self._conn.fetchrow(_DECISION_INPUTS, account_id, since, today, asset)
        assert row is not None
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

    async def position(self, account_id: str, asset: str) -> Position:
        """The booked position plus what open approved buys may still add."""
        row = await self._conn.fetchrow(_POSITION, account_id, asset)
        assert row is not None
        return _position(row)

    async def record_order(
        self,
        account_id: str,
        order: OrderSpec,
        decision: OrderDecision,
        now: datetime,
        requested_at: datetime,
        accepted_at: datetime | None = None,
    ) -> None:
        """Store the decision (with what the duplicate rule compares: the order as asked and
        when the gateway accepted it); an approval counts toward today's volume at once."""
        outcome, valuation = decision.outcome, decision.valuation
        rejected = outcome if isinstance(outcome, OrderRejected) else None
        notional = valuation.notional_usd if decision.approved and valuation else None
        await self._conn.execute(
            "INSERT INTO order_decisions (order_id, account_id, symbol, base_asset, side, amount, "
            "decided_at, approved, reason, rule, notional_usd, quote_usd_rate, open, "
            "requested_at, order_type, price, mode, exchange, accepted_at) VALUES ($1, $2, $3, "
            "$4, $5, $6, $7, $8, $9, $10, $11, $12, $8, $13, $14, $15, $16, $17, $18)",
            order.order_id,
            account_id,
            order.symbol,
            order.base,
            order.side.value,
            order.amount,
            now,
            decision.approved,
            rejected.reason.value if rejected else None,
            rejected.rule if rejected else None,
            notional,
            valuation.quote_usd if valuation else None,
            requested_at,
            order.type.value,
            order.price,
            order.mode.value,
            order.exchange,
            accepted_at or requested_at,
        )
        if notional is not None:
            await self.add_daily(account_id, utc_day(now), "order_volume", notional)

    async def record_withdrawal(
        self,
        account_id: str,
        withdrawal: WithdrawalSpec,
        decision: WithdrawalDecision,
        now: datetime,
        requested_at: datetime,
    ) -> None:
        """Store the decision; an approval counts toward today's withdrawals at once."""
        rejected = decision.outcome if isinstance(decision.outcome, WithdrawalRejected) else None
        amount_usd = decision.amount_usd if decision.approved else None
        await self._conn.execute(
            "INSERT INTO withdrawal_decisions (withdrawal_id, account_id, asset, amount, "
            "decided_at, approved, reason, rule, amount_usd, requested_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            withdrawal.withdrawal_id,
            account_id,
            withdrawal.asset,
            withdrawal.amount,
            now,
            decision.approved,
            rejected.reason.value if rejected else None,
            rejected.rule if rejected else None,
            amount_usd,
            requested_at,
        )
        if amount_usd is not None:
            await self.add_daily(account_id, utc_day(now), "withdrawn", amount_usd)

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
