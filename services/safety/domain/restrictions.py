"""The operator's restricted list: a listed symbol takes no new order; a listed account sends
no new order and no withdrawal. Open orders are not touched (a kill switch cancels them)."""

from __future__ import annotations

from services.safety.domain.checks import OrderCheck, WithdrawalCheck
from services.safety.domain.rejection import Rejection
from shared.contracts.reasons import RejectReason
from shared.contracts.restrictions import RestrictionScope


def restricted_order(check: OrderCheck) -> Rejection | None:
    listed = check.restrictions.covering_order(check.account_id, check.order.symbol)
    return None if listed is None else _rejection(*listed, "orders")


def restricted_withdrawal(check: WithdrawalCheck) -> Rejection | None:
    listed = check.restrictions.covering_withdrawal(check.account_id)
    return None if listed is None else _rejection(*listed, "withdrawals")


def _rejection(scope: RestrictionScope, target: str, what: str) -> Rejection:
    return Rejection(
        RejectReason.RESTRICTED,
        "restricted",
        f"the {scope} {target} is on the restricted list: no new {what}",
        {"scope": scope.value, "target": target},
    )
