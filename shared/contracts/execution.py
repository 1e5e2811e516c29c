"""What happened at the venue."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, Field

from shared.contracts.envelope import Payload, register
from shared.contracts.reasons import RejectReason
from shared.contracts.topics import Topic
from shared.money import NonNegativeMoney, PositiveMoney


class FillStatus(StrEnum):
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"


@register
class OrderSubmitted(Payload):
    TYPE = "OrderSubmitted"
    TOPIC = Topic.EXECUTION_EVENTS
    order_id: str
    client_order_id: str
    venue: str
    venue_order_id: str | None = None


@register
class OrderFilled(Payload):
    """One trade at the venue (partial or full). Keyed by the venue's trade id: applied once."""

    TYPE = "OrderFilled"
    TOPIC = Topic.EXECUTION_EVENTS
    order_id: str
    trade_id: str
    symbol: str
    side: str
    amount: PositiveMoney
    price: PositiveMoney
    fee: NonNegativeMoney
    fee_asset: str
    status: FillStatus
    cumulative_amount: PositiveMoney


@register
class OrderCancelled(Payload):
    TYPE = "OrderCancelled"
    TOPIC = Topic.EXECUTION_EVENTS
    order_id: str
    reason: str = "requested"


@register
class OrderFailed(Payload):
    TYPE = "OrderFailed"
    TOPIC = Topic.EXECUTION_EVENTS
    order_id: str
    reason: RejectReason
    detail: str


@register
class OrderOutcomeUnknown(Payload):
    TYPE = "OrderOutcomeUnknown"
    TOPIC = Topic.EXECUTION_EVENTS
    order_id: str
    client_order_id: str
    detail: str


@register
class WithdrawalSent(Payload):
    TYPE = "WithdrawalSent"
    TOPIC = Topic.EXECUTION_EVENTS
    withdrawal_id: str
    asset: str
    amount: PositiveMoney
    txid: str


@register
class WithdrawalFailed(Payload):
    TYPE = "WithdrawalFailed"
    TOPIC = Topic.EXECUTION_EVENTS
    withdrawal_id: str
    reason: RejectReason
    detail: str


@register
class DepositDetected(Payload):
    TYPE = "DepositDetected"
    TOPIC = Topic.EXECUTION_EVENTS
    venue: str
    txid: str
    asset: str
    amount: PositiveMoney


@register
class PriceTick(Payload):
    """A reference price. `account_id` of its envelope is the system account; keyed by symbol."""

    TYPE = "PriceTick"
    TOPIC = Topic.MARKET_PRICES
    venue: str
    symbol: str
    price: PositiveMoney
    sequence: int = Field(ge=0)


@register
class ExchangeKeyValidated(Payload):
    """Execution tried the key at the venue (ccxt `fetch_balance`); `valid` says how it went."""

    TYPE = "ExchangeKeyValidated"
    TOPIC = Topic.EXECUTION_EVENTS
    key_id: str
    exchange: str
    valid: bool
    detail: str = ""


@register
class VenueBalancesReported(Payload):
    """What a network venue says one account holds (ccxt `fetch_balance`): the total (free +
    used) per asset, as the venue reported it at `observed_at`. An asset left out holds zero.
    Only ever a real answer: a fetch that fails reports nothing. The ledger reconciles it."""

    TYPE = "VenueBalancesReported"
    TOPIC = Topic.EXECUTION_EVENTS
    venue: str
    balances: dict[str, NonNegativeMoney]
    observed_at: AwareDatetime
