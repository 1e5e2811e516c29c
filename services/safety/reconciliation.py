"""A venue disagrees with the ledger about an account's money (`BalanceDiscrepancyDetected`):
halt that account, exactly as an admin's account kill switch would, until an admin releases it.

Idempotent: an account already halted stays as it is (its first reason kept); otherwise (no
switch, a released one, or a reduce-only one, which is not enough here) the switch is engaged
in `halt` as of the discrepancy's time (a release an admin sends later wins) and
`KillSwitchChanged` is emitted so the audit trail shows who engaged it and why.
"""

from __future__ import annotations

import logging

from services.safety.domain import KillSwitchMode, KillSwitchScope
from services.safety.store_events import EventStore
from shared.contracts.accounts import KillSwitchChanged
from shared.contracts.envelope import Envelope, new_message
from shared.contracts.ledger import BalanceDiscrepancyDetected
from shared.db import Connection
from shared.ids import derived_id
from shared.outbox import enqueue

log = logging.getLogger(__name__)
ENGAGED_BY = "safety:reconciliation"


def reason_for(found: BalanceDiscrepancyDetected) -> str:
    return (
        f"balance discrepancy at {found.venue}: {found.asset} ledger {found.ledger_total}, "
        f"venue {found.venue_total} (difference {found.difference})"
    )


async def halt_account(conn: Connection, message: Envelope) -> None:
    found = message.body(BalanceDiscrepancyDetected)
    account_id = message.account_id
    halted = await conn.fetchval(
        "SELECT engaged AND mode = $3 FROM kill_switches WHERE scope = $1 AND target = $2 "
        "FOR UPDATE",
        KillSwitchScope.ACCOUNT.value,
        account_id,
        KillSwitchMode.HALT.value,
    )
    if halted:
        log.info("account %s already halted; %s not re-engaged", account_id, message.type)
        return
    reason = reason_for(found)
    await EventStore(conn).save_kill_switch(
        scope=KillSwitchScope.ACCOUNT.value,
        target=account_id,
        engaged=True,
        reason=reason,
        changed_by=ENGAGED_BY,
        changed_at=message.occurred_at,
    )
    log.warning("account %s halted: %s", account_id, reason)
    change = KillSwitchChanged(
        scope=KillSwitchScope.ACCOUNT.value,
        target=account_id,
        engaged=True,
        reason=reason,
        changed_by=ENGAGED_BY,
    )
    await enqueue(
        conn,
        new_message(
            change,
            producer="safety",
            account_id=account_id,
            correlation_id=message.correlation_id,
            cause=message,
            now=message.occurred_at,
            event_id=derived_id("safety.kill-switch", str(message.event_id)),
        ),
    )
