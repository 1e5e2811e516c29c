"""Safety's pure rules engine: decision = f(account state, limits, prices, now, command).

No I/O and no clock: the handlers load the state, pass `now`, and store what
the decision says. See `orders` and `withdrawals` for the rule order.
"""

from services.safety.domain.checks import OrderCheck, WithdrawalCheck
from services.safety.domain.limits import OVERRIDABLE_LIMITS, PAPER_VENUE, Limits
from services.safety.domain.orders import ORDER_RULES, OrderDecision, decide_order
from services.safety.domain.positions import FillBooking, book_fill, fee_in_usd
from services.safety.domain.rejection import Rejection
from services.safety.domain.state import (
    AccountState,
    KillSwitches,
    Position,
    PriceBook,
    ReferencePrice,
    Restrictions,
    SentOrder,
    Stopping,
    request_time,
    utc_day,
)
from services.safety.domain.suspicious import flag_for
from services.safety.domain.valuation import OrderValuation, usd_rate_at_any_age
from services.safety.domain.withdrawals import (
    WITHDRAWAL_RULES,
    WithdrawalDecision,
    decide_withdrawal,
)
from shared.contracts.accounts import KillSwitchMode, KillSwitchScope

__all__ = [
    "ORDER_RULES",
    "OVERRIDABLE_LIMITS",
    "PAPER_VENUE",
    "WITHDRAWAL_RULES",
    "AccountState",
    "FillBooking",
    "KillSwitchMode",
    "KillSwitchScope",
    "KillSwitches",
    "Limits",
    "OrderCheck",
    "OrderDecision",
    "OrderValuation",
    "Position",
    "PriceBook",
    "ReferencePrice",
    "Rejection",
    "Restrictions",
    "SentOrder",
    "Stopping",
    "WithdrawalCheck",
    "WithdrawalDecision",
    "book_fill",
    "decide_order",
    "decide_withdrawal",
    "fee_in_usd",
    "flag_for",
    "request_time",
    "usd_rate_at_any_age",
    "utc_day",
]
