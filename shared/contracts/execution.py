"""What happened at the venue."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared.contracts.envelope import Payload, register
from shared.contracts.orders import SYMBOL_PATTERN
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
    sends: int | None = Field(default=None, ge=1)
    """How many times execution sent the order to a network venue before the venue had it
    (None: the paper venue, answered in execution's own transaction)."""


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
    sends: int | None = Field(default=None, ge=1)
    """How many times execution has sent the order so far (None: the paper venue). While the
    outcome is unknown it is looked up by client order id, never sent again."""


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


MARKETS_PER_MESSAGE = 400
"""A venue's listing is split into parts of at most this many markets (the envelope's size cap)."""


class ListedMarket(BaseModel):
    """One spot market a venue lists, with the venue's own rules for it. A rule the venue does
    not state is None: safety then applies only its own limits for it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    symbol: str = Field(pattern=SYMBOL_PATTERN)
    amount_min: PositiveMoney | None = None
    amount_max: PositiveMoney | None = None
    cost_min: PositiveMoney | None = None
    """In the quote asset: amount x price."""
    cost_max: PositiveMoney | None = None
    amount_step: PositiveMoney | None = None
    """An amount must be a whole multiple of this (the venue's lot size)."""
    price_step: PositiveMoney | None = None
    """A limit price must be a whole multiple of this (the venue's tick size)."""


@register
class MarketsListed(Payload):
    """The markets a venue lists, published by execution: the paper venue's at start, a network
    venue's from ccxt `load_markets` when a key for it is validated and then periodically.
    Part `part` of `parts`; every part of one listing has the same `listed_at`, and the last part
    ends it: a market of that venue not in any part is no longer listed. Like `PriceTick`, its
    envelope's account is the system account, so a listing and the ticks stay in order."""

    TYPE = "MarketsListed"
    TOPIC = Topic.MARKET_PRICES
    venue: str = Field(pattern=r"^[a-z0-9_]{2,32}$")
    listed_at: AwareDatetime
    part: int = Field(ge=1)
    parts: int = Field(ge=1, le=1000)
    markets: list[ListedMarket] = Field(max_length=MARKETS_PER_MESSAGE)

    @model_validator(mode="after")
    def _part_within_parts(self) -> MarketsListed:
        if self.part > self.parts:
            raise ValueError(f"part {self.part} of {self.parts}")
        return self


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
