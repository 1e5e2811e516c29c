"""A venue disagrees with the ledger about an account's money (`BalanceDiscrepancyDetected`):
halt that account, exactly as an admin's account kill switch would, until an admin releases it
(`halts.halt_account`: an account already halted stays as it is, a reduce-only one escalates).
"""

from __future__ import annotations

from services.safety.halts import halt_account as halt
from shared.contracts.envelope import Envelope
from shared.contracts.ledger import BalanceDiscrepancyDetected
from shared.db import Connection
from shared.emitter import Emitter

ENGAGED_BY = "safety:reconciliation"


def reason_for(found: BalanceDiscrepancyDetected) -> str:
    return (
        f"balance discrepancy at {found.venue}: {found.asset} ledger {found.ledger_total}, "
        f"venue {found.venue_total} (difference {found.difference})"
    )


async def halt_account(conn: Connection, emitter: Emitter, message: Envelope) -> None:
    found = message.body(BalanceDiscrepancyDetected)
    await halt(conn, emitter, message, reason=reason_for(found), changed_by=ENGAGED_BY)
