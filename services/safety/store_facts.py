"""Safety's SQL for what it learns from events: prices, markets, kill switches, fills, failures.

Each write is idempotent by a natural key (symbol + time, switch + time, trade id,
order id), so a message applied twice changes nothing the second time.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from services.safety.domain import OVERRIDABLE_LIMITS, KillSwitchMode, KillSwitchScope, Position
from services.safety.errors import InvalidLimitOverride
from shared.contracts.execution import MarketsListed
from shared.db import Connection


class FactStore:
    """Safety's own copy of the facts other services announce (its read models), plus the
    counters it keeps from them. Not an event log: a fact is overwritten by a newer one."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def save_price(
        self, symbol: str, venue: str, price: Decimal, sequence: int, observed_at: datetime
    ) -> None:
        """Keep the newest price per symbol: later time wins, then higher sequence."""
        await self._conn.execute(
            "INSERT INTO reference_prices (symbol, venue, price, sequence, observed_at) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (symbol) DO UPDATE SET "
            "venue = EXCLUDED.venue, price = EXCLUDED.price, sequence = EXCLUDED.sequence, "
            "observed_at = EXCLUDED.observed_at "
            "WHERE (reference_prices.observed_at, reference_prices.sequence) "
            "< (EXCLUDED.observed_at, EXCLUDED.sequence)",
            symbol,
            venue,
            price,
            sequence,
            observed_at,
        )

    async def save_listing(self, listed: MarketsListed) -> None:
        """A part of a venue's listing: each market kept unless a newer listing already has
        it; the last part drops the venue's markets no part of this listing named."""
        await self._conn.executemany(
            "INSERT INTO markets (venue, symbol, amount_min, amount_max, cost_min, cost_max, "
            "amount_step, price_step, listed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
            "ON CONFLICT (venue, symbol) DO UPDATE SET amount_min = EXCLUDED.amount_min, "
            "amount_max = EXCLUDED.amount_max, cost_min = EXCLUDED.cost_min, "
            "cost_max = EXCLUDED.cost_max, amount_step = EXCLUDED.amount_step, "
            "price_step = EXCLUDED.price_step, listed_at = EXCLUDED.listed_at "
            "WHERE markets.listed_at <= EXCLUDED.listed_at",
            [
                (
                    listed.venue,
                    m.symbol,
                    m.amount_min,
                    m.amount_max,
                    m.cost_min,
                    m.cost_max,
                    m.amount_step,
                    m.price_step,
                    listed.listed_at,
                )
                for m in listed.markets
            ],
        )
        if listed.part == listed.parts:
            await self._conn.execute(
                "DELETE FROM markets WHERE venue = $1 AND listed_at < $2",
                listed.venue,
                listed.listed_at,
            )

    async def save_known_account(self, account_id: str, role: str, at: datetime) -> None:
        """Safety has seen the account registered (a repeated registration changes nothing)."""
        await self._conn.execute(
            "INSERT INTO known_accounts (account_id, role, registered_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (account_id) DO NOTHING",
            account_id,
            role,
            at,
        )

    async def save_kill_switch(
        self,
        *,
        scope: KillSwitchScope,
        target: str,
        engaged: bool,
        reason: str,
        changed_by: str,
        changed_at: datetime,
        mode: KillSwitchMode = KillSwitchMode.HALT,
    ) -> None:
        """The newest change of a switch wins, whatever order the changes arrive in."""
        await self._conn.execute(
            "INSERT INTO kill_switches (scope, target, engaged, reason, changed_by, changed_at, "
            "mode) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (scope, target) DO UPDATE SET "
            "engaged = EXCLUDED.engaged, reason = EXCLUDED.reason, "
            "changed_by = EXCLUDED.changed_by, changed_at = EXCLUDED.changed_at, "
            "mode = EXCLUDED.mode WHERE kill_switches.changed_at <= EXCLUDED.changed_at",
            scope.value,
            target,
            engaged,
            reason,
            changed_by,
            changed_at,
            mode.value,
        )

    async def save_key_validation(
        self, account_id: str, key_id: str, exchange: str, *, valid: bool, checked_at: datetime
    ) -> None:
        """The newest validation of a key wins, whatever order they arrive in."""
        await self._conn.execute(
            "INSERT INTO exchange_keys (account_id, key_id, exchange, valid, checked_at) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, key_id) DO UPDATE SET "
            "exchange = EXCLUDED.exchange, valid = EXCLUDED.valid, "
            "checked_at = EXCLUDED.checked_at "
            "WHERE exchange_keys.checked_at <= EXCLUDED.checked_at",
            account_id,
            key_id,
            exchange,
            valid,
            checked_at,
        )

    async def first_booking_of_failure(self, order_id: str) -> bool:
        return bool(
            await self._conn.fetchval(
                "INSERT INTO booked_failures (order_id) VALUES ($1) "
                "ON CONFLICT DO NOTHING RETURNING 1",
                order_id,
            )
        )

    async def quote_rate_at_approval(self, order_id: str) -> Decimal | None:
        rate: Decimal | None = await self._conn.fetchval(
            "SELECT quote_usd_rate FROM order_decisions WHERE order_id = $1 AND approved",
            order_id,
        )
        return rate

    async def save_position(
        self, account_id: str, asset: str, position: Position, now: datetime
    ) -> None:
        await self._conn.execute(
            "INSERT INTO positions (account_id, asset, quantity, average_cost_usd, updated_at) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, asset) DO UPDATE SET "
            "quantity = EXCLUDED.quantity, average_cost_usd = EXCLUDED.average_cost_usd, "
            "updated_at = EXCLUDED.updated_at",
            account_id,
            asset,
            position.quantity,
            position.average_cost_usd,
            now,
        )

    async def add_fill_to_order(self, order_id: str, amount: Decimal, *, final: bool) -> None:
        await self._conn.execute(
            "UPDATE order_decisions SET filled_amount = filled_amount + $2, "
            "open = open AND NOT $3 WHERE order_id = $1",
            order_id,
            amount,
            final,
        )

    async def close_order(self, order_id: str) -> None:
        """The order is terminal: what it did not fill no longer counts as open."""
        await self._conn.execute(
            "UPDATE order_decisions SET open = false WHERE order_id = $1 AND open", order_id
        )

    async def count_failure(self, account_id: str, at: datetime) -> None:
        await self._conn.execute(
            "INSERT INTO failure_streaks (account_id, consecutive_failures, last_failure_at) "
            "VALUES ($1, 1, $2) ON CONFLICT (account_id) DO UPDATE SET "
            "consecutive_failures = failure_streaks.consecutive_failures + 1, "
            "last_failure_at = greatest(failure_streaks.last_failure_at, EXCLUDED.last_failure_at)",
            account_id,
            at,
        )

    async def reset_failures(self, account_id: str) -> None:
        await self._conn.execute(
            "UPDATE failure_streaks SET consecutive_failures = 0 WHERE account_id = $1",
            account_id,
        )

    async def set_limit_override(self, account_id: str, name: str, value: Decimal | None) -> None:
        """An operator's per-account limit (None removes it and the default applies again)."""
        if name not in OVERRIDABLE_LIMITS:
            raise InvalidLimitOverride(f"{name!r} cannot be set per account")
        whole = value is None or value == value.to_integral_value()
        if value is not None and (value < 0 or (OVERRIDABLE_LIMITS[name] is int and not whole)):
            raise InvalidLimitOverride(f"{name!r} cannot be {value}")
        if value is None:
            await self._conn.execute(
                "DELETE FROM limit_overrides WHERE account_id = $1 AND name = $2", account_id, name
            )
            return
        await self._conn.execute(
            "INSERT INTO limit_overrides (account_id, name, value) VALUES ($1, $2, $3) "
            "ON CONFLICT (account_id, name) DO UPDATE SET value = EXCLUDED.value, "
            "updated_at = now()",
            account_id,
            name,
            value,
        )
