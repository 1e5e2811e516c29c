"""Safety's `SuspiciousActivityFlagged` joins the trail like any decision, with its values."""

from __future__ import annotations

from services.audit.chain import GENESIS_HASH, next_row, trail_document
from shared.clock import utc_now
from shared.contracts import new_message
from shared.contracts.decisions import HeldRequestKind, SuspiciousActivityFlagged


def test_a_flag_is_chained_on_the_safety_decisions_topic_with_the_compared_values() -> None:
    flag = SuspiciousActivityFlagged(
        request_kind=HeldRequestKind.WITHDRAWAL,
        request_id="w-1",
        rule="withdrawal_burst",
        detail="20 withdrawals in the last hour; held for review",
        values={"withdrawals_last_hour": "20", "threshold": "20"},
    )
    message = new_message(
        flag, producer="safety", account_id="user-1", correlation_id="w-1", now=utc_now()
    )
    row = next_row(0, GENESIS_HASH, trail_document(message))
    assert row.columns["topic"] == "safety.decisions.v1"
    assert row.columns["type"] == "SuspiciousActivityFlagged"
    assert row.message["payload"]["values"] == {"withdrawals_last_hour": "20", "threshold": "20"}
    assert row.message["payload"]["request_kind"] == "withdrawal"
