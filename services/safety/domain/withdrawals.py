"""The pre-withdrawal decision: every rule in a fixed order, the first failure wins.

Order (rule name → reject reason):

 1. account_active    → ACCOUNT_INACTIVE        (safety never saw the account registered)
 2. kill_switch       → KILL_SWITCH             (global or account switch engaged)
 3. restricted        → RESTRICTED              (the account is on the restricted list)
 4. two_factor        → TWO_FACTOR_REQUIRED     (every withdrawal, unless configured off)
 5. exchange_key      → EXCHANGE_KEY_INVALID    (a venue other than paper, no validated key)
 6. reference_price   → PRICE_UNAVAILABLE       (the asset cannot be valued in USD)
 7. withdrawal_daily  → WITHDRAWAL_DAILY_LIMIT  (USD withdrawn today, UTC)
 8. withdrawal_burst  → SUSPICIOUS_ACTIVITY     (many withdrawals in the last hour,
                                                 counted by request time as for orders)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from services.safety.domain import withdrawal_rules as rules
from services.safety.domain.checks import WithdrawalCheck
from services.safety.domain.order_gates import account_active
from services.safety.domain.rejection import Rejection
from services.safety.domain.restrictions import restricted_withdrawal
from services.safety.domain.suspicious import withdrawal_burst
from services.safety.domain.valuation import usd_rate
from shared.contracts.decisions import WithdrawalApproved, WithdrawalRejected
from shared.contracts.reasons import RejectReason
from shared.money import multiply, quantize_up

UnvaluedRule = Callable[[WithdrawalCheck], Rejection | None]
ValuedRule = Callable[[WithdrawalCheck, Decimal], Rejection | None]

RULES_BEFORE_VALUATION: tuple[tuple[str, UnvaluedRule], ...] = (
    ("account_active", account_active),
    ("kill_switch", rules.kill_switch),
    ("restricted", restricted_withdrawal),
    ("two_factor", rules.two_factor),
    ("exchange_key", rules.exchange_key),
)
VALUATION_RULE = "reference_price"
RULES_AFTER_VALUATION: tuple[tuple[str, ValuedRule], ...] = (
    ("withdrawal_daily", rules.withdrawal_daily),
    ("withdrawal_burst", withdrawal_burst),
)
WITHDRAWAL_RULES: tuple[str, ...] = (
    *(name for name, _ in RULES_BEFORE_VALUATION),
    VALUATION_RULE,
    *(name for name, _ in RULES_AFTER_VALUATION),
)


@dataclass(frozen=True)
class WithdrawalDecision:
    outcome: WithdrawalApproved | WithdrawalRejected
    amount_usd: Decimal | None

    @property
    def approved(self) -> bool:
        return isinstance(self.outcome, WithdrawalApproved)


def decide_withdrawal(check: WithdrawalCheck) -> WithdrawalDecision:
    """Approve or reject one withdrawal. Pure: the same check always gives the same decision."""
    for _, unvalued_rule in RULES_BEFORE_VALUATION:
        if (rejection := unvalued_rule(check)) is not None:
            return _rejected(check, rejection, None)
    rate = usd_rate(check.withdrawal.asset, check.prices, check.limits, check.now)
    if rate is None:
        return _rejected(check, _price_unavailable(check), None)
    amount_usd = quantize_up(multiply(check.withdrawal.amount, rate))
    for _, valued_rule in RULES_AFTER_VALUATION:
        if (rejection := valued_rule(check, amount_usd)) is not None:
            return _rejected(check, rejection, amount_usd)
    return WithdrawalDecision(WithdrawalApproved(withdrawal=check.withdrawal), amount_usd)


def _price_unavailable(check: WithdrawalCheck) -> Rejection:
    age = int(check.limits.price_max_age.total_seconds())
    asset = check.withdrawal.asset
    return Rejection(
        RejectReason.PRICE_UNAVAILABLE,
        VALUATION_RULE,
        f"no reference price newer than {age} s to value {asset} in USD",
        {"asset": asset, "max_age_seconds": str(age)},
    )


def _rejected(
    check: WithdrawalCheck, rejection: Rejection, amount_usd: Decimal | None
) -> WithdrawalDecision:
    outcome = WithdrawalRejected(
        withdrawal_id=check.withdrawal.withdrawal_id,
        reason=rejection.reason,
        rule=rejection.rule,
        detail=rejection.detail,
        values=rejection.values,
    )
    return WithdrawalDecision(outcome, amount_usd)
