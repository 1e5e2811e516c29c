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
    """A suspicious-activity rule held a request: emitted with (and only with) the request's
    rejection for `SUSPICIOUS_ACTIVITY`, in the same transaction, for a person to review.
    Keyed by the account; the correlation id is the held request's id."""

    TYPE = "SuspiciousActivityFlagged"
    TOPIC = Topic.SAFETY_DECISIONS
    request_kind: HeldRequestKind
    request_id: str
    """The held order's `order_id` or withdrawal's `withdrawal_id`."""
    rule: str
    """The suspicious-activity rule that fired (e.g. `rejection_burst`, `withdrawal_burst`)."""
    detail: str
    values: dict[str, str] = Field(default_factory=dict)
    """The values the rule compared (decimals as strings)."""
