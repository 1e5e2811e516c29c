"""A request held for suspicious activity raises `SuspiciousActivityFlagged`; nothing else does."""

from __future__ import annotations

from datetime import timedelta

from services.safety.domain import AccountState, decide_order, decide_withdrawal, flag_for
from shared.contracts.decisions import HeldRequestKind, OrderRejected, WithdrawalRejected
from shared.contracts.reasons import RejectReason
from tests.unit.safety.scenario import NOW, order_check, times, withdrawal_check


def test_a_rejection_burst_holds_the_order_and_flags_it_with_the_compared_values() -> None:
    probing = AccountState(
        registered=True, rejections=times(50, ending=NOW, spacing=timedelta(seconds=10))
    )
    outcome = decide_order(order_check(account=probing)).outcome
    assert isinstance(outcome, OrderRejected)
    assert outcome.reason is RejectReason.SUSPICIOUS_ACTIVITY
    flag = flag_for(outcome)
    assert flag is not None
    assert (flag.request_kind, flag.request_id, flag.rule) == (
        HeldRequestKind.ORDER,
        "order-1",
        "rejection_burst",
    )
    assert flag.values == {"rejections_last_hour": "50", "threshold": "50"}
    assert flag.detail == outcome.detail


def test_a_withdrawal_burst_holds_the_withdrawal_and_flags_it() -> None:
    emptying = AccountState(
        registered=True, withdrawals=times(20, ending=NOW, spacing=timedelta(minutes=2))
    )
    outcome = decide_withdrawal(withdrawal_check(account=emptying)).outcome
    assert isinstance(outcome, WithdrawalRejected)
    flag = flag_for(outcome)
    assert flag is not None
    assert (flag.request_kind, flag.request_id, flag.rule) == (
        HeldRequestKind.WITHDRAWAL,
        "withdrawal-1",
        "withdrawal_burst",
    )
    assert flag.values == {"withdrawals_last_hour": "20", "threshold": "20"}


def test_approvals_and_other_rejections_raise_no_flag() -> None:
    approved = decide_order(order_check(account=AccountState(registered=True))).outcome
    inactive = decide_order(order_check(account=AccountState())).outcome
    assert isinstance(inactive, OrderRejected)
    assert flag_for(approved) is None
    assert flag_for(inactive) is None
