"""Kill switches: the gateway keeps the current state for `GET` and tells safety, which enforces
them, through `KillSwitchChanged` on the accounts topic (same transaction)."""

from __future__ import annotations

from datetime import datetime

from services.gateway.activity import emit, message_for
from services.gateway.store import trail
from services.gateway.store.trail import KillSwitch
from shared.contracts.accounts import KillSwitchChanged
from shared.db import Connection
from shared.ids import SYSTEM_ACCOUNT


async def change_kill_switch(
    conn: Connection,
    *,
    scope: str,
    target: str | None,
    engaged: bool,
    reason: str,
    changed_by: str,
    now: datetime,
) -> KillSwitch:
    """Record the switch and emit `KillSwitchChanged` (keyed by the account for an account
    switch, by the system account otherwise), in the caller's transaction."""
    switch = KillSwitch(scope, target, engaged, reason, changed_by, now)
    await trail.save_kill_switch(conn, switch)
    payload = KillSwitchChanged(
        scope=scope, target=target, engaged=engaged, reason=reason, changed_by=changed_by
    )
    account = target if scope == "account" and target else SYSTEM_ACCOUNT
    correlation = f"kill-switch:{scope}:{target or '*'}"
    message = message_for(payload, account_id=account, correlation_id=correlation, now=now)
    await emit(conn, changed_by, message)
    return switch
