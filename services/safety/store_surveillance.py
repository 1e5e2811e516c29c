"""Safety's SQL for the post-trade controls: the account's fills, its order count, the
surveillance episodes in progress and its kill switch.

Runs on the caller's connection inside the inbox's transaction with the account locked, so a
fill is counted exactly when it is booked: a redelivered message changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from services.safety.domain import KillSwitchMode, KillSwitchScope
from services.safety.domain.surveillance import BookedFill, starts_episode
from shared.contracts.execution import OrderFilled
from shared.contracts.orders import Side
from shared.db import Connection


@dataclass(frozen=True)
class AccountSwitch:
    """The account's own kill switch as safety last stored it."""

    engaged: bool
    mode: KillSwitchMode
    changed_at: datetime

    @property
    def halted(self) -> bool:
        return self.engaged and self.mode is KillSwitchMode.HALT

    @property
    def released_at(self) -> datetime | None:
        """When an operator last released it (counting restarts there)."""
        return None if self.engaged else self.changed_at


class SurveillanceStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def first_booking_of_fill(self, account_id: str, fill: OrderFilled, at: datetime) -> bool:
        """Mark the trade booked, with whose it is and when it happened; False if it was."""
        return bool(
            await self._conn.fetchval(
                "INSERT INTO booked_fills (order_id, trade_id, account_id, symbol, side, price, "
                "filled_at) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                "ON CONFLICT DO NOTHING RETURNING 1",
                fill.order_id,
                fill.trade_id,
                account_id,
                fill.symbol,
                Side(fill.side).value,
                fill.price,
                at,
            )
        )

    async def limit_overrides(self, account_id: str) -> dict[str, Decimal]:
        rows = await self._conn.fetch(
            "SELECT name, value FROM limit_overrides WHERE account_id = $1", account_id
        )
        return {r["name"]: r["value"] for r in rows}

    async def account_switch(self, account_id: str) -> AccountSwitch | None:
        row = await self._conn.fetchrow(
            "SELECT engaged, mode, changed_at FROM kill_switches WHERE scope = $1 AND target = $2",
            KillSwitchScope.ACCOUNT.value,
            account_id,
        )
        if row is None:
            return None
        return AccountSwitch(row["engaged"], KillSwitchMode(row["mode"]), row["changed_at"])

    async def fill_times(self, account_id: str, since: datetime) -> tuple[datetime, ...]:
        rows = await self._conn.fetch(
            "SELECT filled_at FROM booked_fills WHERE account_id = $1 AND filled_at > $2",
            account_id,
            since,
        )
        return tuple(r["filled_at"] for r in rows)

    async def fills_of(
        self, account_id: str, symbol: str, around: datetime, window: timedelta
    ) -> tuple[BookedFill, ...]:
        rows = await self._conn.fetch(
            "SELECT order_id, trade_id, side, price, filled_at FROM booked_fills "
            "WHERE account_id = $1 AND symbol = $2 AND filled_at > $3 AND filled_at < $4 "
            "ORDER BY filled_at, trade_id",
            account_id,
            symbol,
            around - window,
            around + window,
        )
        return tuple(
            BookedFill(r["order_id"], r["trade_id"], Side(r["side"]), r["price"], r["filled_at"])
            for r in rows
        )

    async def activity(self, asked: Sequence[tuple[str, datetime]]) -> dict[str, tuple[int, int]]:
        """For each (account, since) asked (each account once): (orders sent, fills booked) by
        the account after `since`, by account."""
        rows = await self._conn.fetch(
            "SELECT q.account_id, "
            "       (SELECT count(*) FROM order_decisions AS d "
            "        WHERE d.account_id = q.account_id AND d.requested_at > q.since) AS orders, "
            "       (SELECT count(*) FROM booked_fills AS f "
            "        WHERE f.account_id = q.account_id AND f.filled_at > q.since) AS fills "
            "FROM unnest($1::text[], $2::timestamptz[]) AS q(account_id, since)",
            [account_id for account_id, _ in asked],
            [since for _, since in asked],
        )
        return {r["account_id"]: (r["orders"], r["fills"]) for r in rows}

    async def match(
        self, account_id: str, rule: str, subject: str, at: datetime, window: timedelta
    ) -> bool:
        """Record that `rule` matched at `at`; True if that starts a new episode (flag it)."""
        last_seen = await self._conn.fetchval(
            "SELECT last_seen FROM surveillance_episodes "
            "WHERE account_id = $1 AND rule = $2 AND subject = $3 FOR UPDATE",
            account_id,
            rule,
            subject,
        )
        starts = starts_episode(last_seen, at, window)
        if starts:
            await self._conn.execute(
                "INSERT INTO surveillance_episodes (account_id, rule, subject, started_at, "
                "last_seen) VALUES ($1, $2, $3, $4, $4) ON CONFLICT (account_id, rule, subject) "
                "DO UPDATE SET started_at = EXCLUDED.started_at, last_seen = EXCLUDED.last_seen",
                account_id,
                rule,
                subject,
                at,
            )
        else:
            await self._conn.execute(
                "UPDATE surveillance_episodes SET last_seen = greatest(last_seen, $4) "
                "WHERE account_id = $1 AND rule = $2 AND subject = $3",
                account_id,
                rule,
                subject,
                at,
            )
        return starts
