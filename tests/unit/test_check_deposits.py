"""`cryptoorch check` on deposits: a rejected deposit is an end, one never decided is lost."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cryptoorch.check_venues import Row
from cryptoorch.invariants import Snapshot, find_violations

USER = "user-1"


def snapshot(*deposits: dict[str, Any], credited: tuple[str, ...] = ()) -> Snapshot:
    """Deposits of `USER` in USDT as the gateway has them; the ledger booked `credited`
    (references) and holds exactly what they add up to."""
    rows: list[Row] = [
        {"user_id": USER, "asset": "USDT", "amount": Decimal(10), **d} for d in deposits
    ]
    total = sum((r["amount"] for r in rows if r["reference"] in credited), Decimal(0))
    db: dict[str, list[Row]] = {
        "deposits": rows,
        "credited_deposits": [{"subreference": ref} for ref in credited],
        "ledger_balances": [{"owner": USER, "asset": "USDT", "total": total, "held": None}]
        if credited
        else [],
    }
    for empty in (
        "orders",
        "withdrawals",
        "execution_orders",
        "shown_balances",
        "open_holds",
        "discrepancies",
        "venue_orders",
        "venue_trades",
        "reported_fills",
        "venue_withdrawals",
    ):
        db[empty] = []
    return Snapshot(db=db)


def test_a_credited_and_a_rejected_deposit_are_both_ended() -> None:
    credited = {"deposit_id": "d-1", "reference": "r-1", "status": "credited"}
    rejected = {
        "deposit_id": "d-2",
        "reference": "r-2",
        "status": "rejected",
        "reject_reason": "BALANCE_LIMIT",
    }
    assert find_violations(snapshot(credited, rejected, credited=("r-1",))) == []


def test_a_deposit_neither_credited_nor_rejected_is_reported() -> None:
    lost = {"deposit_id": "d-1", "reference": "r-1", "status": "requested"}
    violations = find_violations(snapshot(lost))
    assert any("d-1" in v and "neither credited nor rejected" in v for v in violations)


def test_a_rejected_deposit_the_ledger_booked_is_reported() -> None:
    both = {
        "deposit_id": "d-1",
        "reference": "r-1",
        "status": "rejected",
        "reject_reason": "DEPOSIT_REFERENCE_TAKEN",
    }
    violations = find_violations(snapshot(both, credited=("r-1",)))
    assert any("d-1" in v and "but the ledger booked it" in v for v in violations)
