"""The suspicious-activity detector: patterns a person should look at before money moves.

Each rule holds the request with `SUSPICIOUS_ACTIVITY`. The thresholds are far
from ordinary use (a new user placing a few orders and one withdrawal on their
first day never meets them):

* `rejection_burst`: `suspicious_rejections_per_hour` (default 50) orders of this
  account rejected by safety in the last rolling hour: someone is probing the
  limits, or a bot is misbehaving. Rejections keep counting, so the hold lasts
  until the hour is quiet.
* `withdrawal_burst`: `suspicious_withdrawals_per_hour` (default 20) withdrawals
  approved for this account in the last rolling hour: the classic pattern of a
  taken-over account being emptied in small pieces under the daily limit.

A held request is also flagged (`flag_for`): `SuspiciousActivityFlagged` goes out
with its rejection, in the same transaction.
"""

from __future__ import annotations

from decimal import Decimal

from services.safety.domain.checks import OrderCheck, WithdrawalCheck
from services.safety.domain.order_limits import HOUR
from services.safety.domain.rejection import Rejection, shown
from services.safety.domain.state import count_within
from services.safety.domain.valuation import OrderValuation
from shared.contracts.decisions import (
    HeldRequestKind,
    OrderApproved,
    OrderRejected,
    SuspiciousActivityFlagged,
    WithdrawalApproved,
    WithdrawalRejected,
)
from shared.contracts.reasons import RejectReason

Outcome = OrderApproved | OrderRejected | WithdrawalApproved | WithdrawalRejected


def rejection_burst(check: OrderCheck, valuation: OrderValuation) -> Rejection | None:
    threshold = check.limits.suspicious_rejections_per_hour
    rejected = count_within(check.account.rejections, check.request_time, HOUR)
    if rejected < threshold:
        return None
    return Rejection(
        RejectReason.SUSPICIOUS_ACTIVITY,
        "rejection_burst",
        f"{rejected} rejected orders in the last hour; held for review",
        {"rejections_last_hour": shown(rejected), "threshold": shown(threshold)},
    )


def withdrawal_burst(check: WithdrawalCheck, amount_usd: Decimal) -> Rejection | None:
    threshold = check.limits.suspicious_withdrawals_per_hour
    recent = count_within(check.account.withdrawals, check.request_time, HOUR)
    if recent < threshold:
        return None
    return Rejection(
        RejectReason.SUSPICIOUS_ACTIVITY,
        "withdrawal_burst",
        f"{recent} withdrawals in the last hour; held for review",
        {"withdrawals_last_hour": shown(recent), "threshold": shown(threshold)},
    )


def flag_for(outcome: Outcome) -> SuspiciousActivityFlagged | None:
    """The flag a decision raises: only a rejection for SUSPICIOUS_ACTIVITY holds a request."""
    match outcome:
        case OrderRejected(reason=RejectReason.SUSPICIOUS_ACTIVITY) as held:
            kind, request_id = HeldRequestKind.ORDER, held.order_id
        case WithdrawalRejected(reason=RejectReason.SUSPICIOUS_ACTIVITY) as held:
            kind, request_id = HeldRequestKind.WITHDRAWAL, held.withdrawal_id
        case _:
            return None
    return SuspiciousActivityFlagged(
        request_kind=kind,
        request_id=request_id,
        rule=held.rule,
        detail=held.detail,
        values=dict(held.values),
    )
