"""Safety's decisions. Every decision names the rule that decided it and what it compared."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from shared.contracts.envelope import Payload, register
from shared.contracts.orders import OrderSpec
from shared.contracts.reasons import RejectReason
from shared.contracts.topics import Topic
from shared.contracts.wallet import WithdrawalSpec
from shared.money import PositiveMoney


@register
class OrderApproved(Payload):
    TYPE = "OrderApproved"
    TOPIC = Topic.SAFETY_DECISIONS
    order: OrderSpec
    reference_price: PositiveMoney
    """The fresh reference price the order was valued at (the ledger sizes market holds with it)."""
    price_band: PositiveMoney
    """Fraction (0.10 = 10%) a market order may move from the reference price."""
    checks: list[str] = Field(default_factory=list)


@register
class OrderRejected(Payload):
    TYPE = "OrderRejected"
    TOPIC = Topic.SAFETY_DECISIONS
    order_id: str
    reason: RejectReason
    rule: str
    detail: str
    values: dict[str, str] = Field(default_factory=dict)


@register
class WithdrawalApproved(Payload):
    TYPE = "WithdrawalApproved"
    TOPIC = Topic.SAFETY_DECISIONS
    withdrawal: WithdrawalSpec


@register
class WithdrawalRejected(Payload):
    TYPE = "WithdrawalRejected"
    TOPIC = Topic.SAFETY_DECISIONS
    withdrawal_id: str
    reason: RejectReason
    rule: str
    detail: str
    values: dict[str, str] = Field(default_factory=dict)


class HeldRequestKind(StrEnum):
    ORDER = "order"
    WITHDRAWAL = "withdrawal"


@register
class SuspiciousActivityFlagged(Payload):
    """A suspicious-activity rule matched, for a person to review. Either it held a request
    (`held`: emitted with the request's rejection for `SUSPICIOUS_ACTIVITY`, in the same
    transaction) or a surveillance rule saw a pattern in orders that went on (`held` false:
    `wash_trade`, `order_to_trade_ratio`; raised once per episode). Keyed by the account; the
    correlation id is the request's id (the order that completed the pattern)."""

    TYPE = "SuspiciousActivityFlagged"
    TOPIC = Topic.SAFETY_DECISIONS
    request_kind: HeldRequestKind
    request_id: str
    """The held order's `order_id` or withdrawal's `withdrawal_id`."""
    rule: str
    """The rule that fired: `rejection_burst`, `withdrawal_burst` (held), `wash_trade`,
    `order_to_trade_ratio` (flagged only)."""
    detail: str
    values: dict[str, str] = Field(default_factory=dict)
    """The values the rule compared (decimals as strings)."""
    held: bool = True
    """False: a flag only, the request was not held (a message without the field was held)."""
