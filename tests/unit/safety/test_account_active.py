"""ACCOUNT_INACTIVE: safety decides only for accounts it has seen registered (fail closed)."""

from __future__ import annotations

from services.safety.domain import AccountState, decide_order, decide_withdrawal
from shared.contracts.decisions import OrderRejected, WithdrawalRejected
from shared.contracts.reasons import RejectReason
from tests.unit.safety.scenario import ACCOUNT, order_check, withdrawal_check

UNKNOWN = AccountState()


def test_an_account_state_is_unregistered_unless_the_store_says_otherwise() -> None:
    assert not AccountState().registered


def test_an_order_from_an_account_never_seen_registered_is_rejected_as_inactive() -> None:
    outcome = decide_order(order_check(account=UNKNOWN)).outcome
    assert isinstance(outcome, OrderRejected)
    assert (outcome.reason, outcome.rule) == (RejectReason.ACCOUNT_INACTIVE, "account_active")
    assert "not seen this account registered" in outcome.detail
    assert outcome.values == {"account_id": ACCOUNT, "registered": "false"}


def test_a_withdrawal_from_an_account_never_seen_registered_is_rejected_as_inactive() -> None:
    outcome = decide_withdrawal(withdrawal_check(account=UNKNOWN)).outcome
    assert isinstance(outcome, WithdrawalRejected)
    assert (outcome.reason, outcome.rule) == (RejectReason.ACCOUNT_INACTIVE, "account_active")


def test_a_registered_account_passes_the_rule() -> None:
    assert decide_order(order_check(account=AccountState(registered=True))).approved
    assert decide_withdrawal(withdrawal_check(account=AccountState(registered=True))).approved
