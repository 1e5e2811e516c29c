"""Execution's SQL for the switches it was told of: each kill switch's latest state (the
modes covering an order) and each account's dead man's switch (cancel-all-after). A change
older than the one stored is ignored, so redelivered or reordered messages cannot undo one.

Every method runs on the caller's connection, inside the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from shared.contracts.accounts import KillSwitchMode, KillSwitchScope
from shared.db import Connection


class SwitchStore(Protocol):
    async def save_kill_switch(
        self,
        scope: KillSwitchScope,
        target: str,
        *,
        engaged: bool,
        mode: KillSwitchMode,
        changed_at: datetime,
    ) -> bool:
        """Remember a switch's state (target '' for a global one) unless a change as new or
        newer is stored; False when it was not newer."""
        ...

    async def engaged_switch_modes(self, account_id: str, symbol: str) -> list[KillSwitchMode]:
        """The modes of the engaged switches covering an order of `account_id` for `symbol`."""
        ...

    async def arm_cancel_all_after(
        self, account_id: str, armed_at: datetime, armed_until: datetime | None
    ) -> bool:
        """Set the account's dead man's switch (None: disarm) unless an arming as new or newer
        is stored; False when it was not newer."""
        ...


class PostgresSwitchStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def save_kill_switch(
        self,
        scope: KillSwitchScope,
        target: str,
        *,
        engaged: bool,
        mode: KillSwitchMode,
        changed_at: datetime,
    ) -> bool:
        saved = await self._conn.fetchval(
            "INSERT INTO kill_switches (scope, target, engaged, mode, changed_at) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (scope, target) DO UPDATE SET "
            "engaged = EXCLUDED.engaged, mode = EXCLUDED.mode, changed_at = EXCLUDED.changed_at "
            "WHERE kill_switches.changed_at < EXCLUDED.changed_at RETURNING 1",
            scope.value,
            target,
            engaged,
            mode.value,
            changed_at,
        )
        return saved is not None

    async def engaged_switch_modes(self, account_id: str, symbol: str) -> list[KillSwitchMode]:
        rows = await self._conn.fetch(
            "SELECT mode FROM kill_switches WHERE engaged AND (scope = 'global' "
            "OR (scope = 'account' AND target = $1) OR (scope = 'symbol' AND target = $2))",
            account_id,
            symbol,
        )
        return [KillSwitchMode(r["mode"]) for r in rows]

    async def arm_cancel_all_after(
        self, account_id: str, armed_at: datetime, armed_until: datetime | None
    ) -> bool:
        saved = await self._conn.fetchval(
            "INSERT INTO cancel_all_after (account_id, armed_at, armed_until) "
            "VALUES ($1, $2, $3) ON CONFLICT (account_id) DO UPDATE SET "
            "armed_at = EXCLUDED.armed_at, armed_until = EXCLUDED.armed_until, "
            "fired_at = NULL, venues_told = false "
            "WHERE cancel_all_after.armed_at < EXCLUDED.armed_at RETURNING 1",
            account_id,
            armed_at,
            armed_until,
        )
        return saved is not None
