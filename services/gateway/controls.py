"""Kill switches: the gateway keeps the current state for `GET` and tells safety, which enforces
them, through `KillSwitchChanged` on the accounts topic (same transaction).

A switch another service changed (safety halts an account on a balance discrepancy) reaches
the read models as `KillSwitchChanged` too and is recorded as of the event's time, only if
newer than what is stored: an admin's later release is never overwritten by an older event.
"""

from __future__ import annotations

import logging
from datetime import datetime

from services.gateway import NAME
from services.gateway.activity import emit
from services.gateway.errors import KillSwitchTargetUnknown
from services.gateway.store import trail
from services.gateway.store.trail import KillSwitch
from services.gateway.targets import account_target
from shared.contracts.accounts import (
    KillSwitchChanged,
    KillSwitchMode,
    KillSwitchScope,
    UnenforceableKillSwitch,
)
from shared.contracts.envelope import Envelope
from shared.db import Connection
from shared.emitter import Emitter
from shared.ids import SYSTEM_ACCOUNT

log = logging.getLogger(__name__)


class InvalidKillSwitchChange(ValueError):
    """A consumed `KillSwitchChanged` with an unknown scope or a missing target (dead-lettered,
    as safety does: it enforces no such switch either)."""


async def change_kill_switch(
    conn: Connection,
    emitter: Emitter,
    *,
    scope: KillSwitchScope,
    target: str | None,
    engaged: bool,
    reason: str,
    changed_by: str,
    now: datetime,
    mode: KillSwitchMode = KillSwitchMode.HALT,
) -> KillSwitch:
    """Record the switch and emit `KillSwitchChanged` (keyed by the account for an account
    switch, by the system account otherwise), in the caller's transaction.

    An account target is stored as the user's own id, whatever its letter case; one naming no
    user raises `KillSwitchTargetUnknown` and changes nothing (a switch on nobody would report
    engaged and halt nothing). A release may also name an account a switch was set for
    before, so every switch listed can be released."""
    if scope is KillSwitchScope.ACCOUNT:
        named = target or ""
        target = await account_target(
            conn, named, engaging=engaged, set_before=trail.switched_account_in_any_case
        )
        if target is None:
            raise KillSwitchTargetUnknown(f"no user {named!r}: no account switch was changed")
    switch = KillSwitch(scope, target, engaged, reason, changed_by, now, mode)
    await trail.save_kill_switch(conn, switch)
    payload = KillSwitchChanged(
        scope=scope.value,
        target=target,
        engaged=engaged,
        reason=reason,
        changed_by=changed_by,
        mode=mode,
    )
    account = target if scope is KillSwitchScope.ACCOUNT and target else SYSTEM_ACCOUNT
    correlation = f"kill-switch:{scope}:{target or '*'}"
    message = emitter.message(payload, account_id=account, correlation_id=correlation, now=now)
    await emit(conn, changed_by, message)
    return switch


def switch_of(change: KillSwitchChanged, occurred_at: datetime) -> KillSwitch:
    """The switch a consumed change describes, as of the event's time; a global switch has no
    target. Raises `InvalidKillSwitchChange` for a scope or target safety would not enforce."""
    try:
        scope, target = change.switch()
    except UnenforceableKillSwitch as exc:
        raise InvalidKillSwitchChange(str(exc)) from None
    return KillSwitch(
        scope, target, change.engaged, change.reason, change.changed_by, occurred_at, change.mode
    )


async def record_kill_switch_change(conn: Connection, message: Envelope) -> None:
    """Read models: record a `KillSwitchChanged` another service emitted (the gateway's own
    were stored when it emitted them), unless the stored switch is as new or newer."""
    if message.producer == NAME:
        return
    switch = switch_of(message.body(KillSwitchChanged), message.occurred_at)
    if await trail.save_kill_switch_if_newer(conn, switch):
        state = "engaged" if switch.engaged else "released"
        where = f"{switch.scope} {switch.target or '*'}"
        log.info("kill switch %s %s by %s: %s", where, state, switch.changed_by, switch.reason)
