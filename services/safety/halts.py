"""Safety halting an account by itself, exactly as an operator's account kill switch would.

Used by the controls that find something wrong after the fact: a balance discrepancy
(`safety:reconciliation`) and the execution throttle (`safety:execution_throttle`). Safety
never releases a switch: only an operator does.

Idempotent: an account already halted stays as it is (its first reason kept); otherwise (no
switch, a released one, or a reduce-only one, which is not enough here) the switch is engaged
in `halt` as of the cause's time (a release an operator sends later wins) and
`KillSwitchChanged` is emitted, its event id derived from the cause's, so the audit trail
shows who engaged it and why, and execution cancels the account's open orders.
"""

from __future__ import annotations

import logging

from services.safety.domain import KillSwitchMode, KillSwitchScope
from services.safety.store_facts import FactStore
from shared.contracts.accounts import KillSwitchChanged
from shared.contracts.envelope import Envelope
from shared.db import Connection
from shared.emitter import Emitter
from shared.ids import derived_id

log = logging.getLogger(__name__)


async def halt_account(
    conn: Connection, emitter: Emitter, cause: Envelope, *, reason: str, changed_by: str
) -> bool:
    """Engage the account's switch in `halt`; False if it already was."""
    account_id = cause.account_id
    halted = await conn.fetchval(
        "SELECT engaged AND mode = $3 FROM kill_switches WHERE scope = $1 AND target = $2 "
        "FOR UPDATE",
        KillSwitchScope.ACCOUNT.value,
        account_id,
        KillSwitchMode.HALT.value,
    )
    if halted:
        log.info("account %s already halted; %s not re-engaged", account_id, cause.type)
        return False
    await FactStore(conn).save_kill_switch(
        scope=KillSwitchScope.ACCOUNT,
        target=account_id,
        engaged=True,
        reason=reason,
        changed_by=changed_by,
        changed_at=cause.occurred_at,
    )
    log.warning("account %s halted by %s: %s", account_id, changed_by, reason)
    change = KillSwitchChanged(
        scope=KillSwitchScope.ACCOUNT.value,
        target=account_id,
        engaged=True,
        reason=reason,
        changed_by=changed_by,
    )
    await emitter.emit(
        conn,
        change,
        account_id=account_id,
        correlation_id=cause.correlation_id,
        cause=cause,
        now=cause.occurred_at,
        event_id=derived_id("safety.kill-switch", str(cause.event_id)),
    )
    return True
