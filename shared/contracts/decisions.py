"""Safety's decisions. Every decision names the rule that decided it and what it compared."""

from __future__ import annotations

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
