"""Order commands (gateway → safety; cancels and the dead man's switch → execution) and the
order spec every later message carries."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared.contracts.envelope import Payload, register
from shared.contracts.topics import Topic
from shared.money import PositiveMoney

SYMBOL_PATTERN = r"^[A-Z0-9]{2,12}/[A-Z0-9]{2,12}$"


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"


class Mode(StrEnum):
    PAPER = "paper"
    REAL = "real"


class OrderSpec(BaseModel):
    """What the user asked for; travels unchanged from the gateway to execution."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    order_id: str = Field(min_length=1, max_length=64)
    symbol: str = Field(pattern=SYMBOL_PATTERN)
    side: Side
    type: OrderType
    amount: PositiveMoney
    price: PositiveMoney | None = None
    mode: Mode = Mode.PAPER
    exchange: str = Field(default="paper", pattern=r"^[a-z0-9_]{2,32}$")

    @model_validator(mode="after")
    def _price_matches_type(self) -> OrderSpec:
        if self.type is OrderType.LIMIT and self.price is None:
            raise ValueError("a limit order needs a price")
        if self.type is OrderType.MARKET and self.price is not None:
            raise ValueError("a market order takes no price")
        return self

    @property
    def base(self) -> str:
        return self.symbol.split("/")[0]

    @property
    def quote(self) -> str:
        return self.symbol.split("/")[1]


@register
class PlaceOrder(Payload):
    TYPE = "PlaceOrder"
    TOPIC = Topic.ORDER_COMMANDS
    order: OrderSpec
    two_factor_verified: bool = False


@register
class CancelOrder(Payload):
    TYPE = "CancelOrder"
    TOPIC = Topic.ORDER_COMMANDS
    order_id: str = Field(min_length=1, max_length=64)


CANCEL_ALL_AFTER_MAX_SECONDS = 600


@register
class CancelAllAfterArmed(Payload):
    """A user's dead man's switch (`POST /v1/orders/cancel-all-after`): unless armed again
    before `armed_until`, every open order of the account is cancelled then. `armed_until` is
    the gateway's time (envelope `occurred_at` + `timeout_seconds`), so a late delivery never
    extends it; None (`timeout_seconds` 0) disarms. The newest arming (by `occurred_at`) wins."""

    TYPE = "CancelAllAfterArmed"
    TOPIC = Topic.ORDER_COMMANDS
    timeout_seconds: int = Field(ge=0, le=CANCEL_ALL_AFTER_MAX_SECONDS)
    armed_until: AwareDatetime | None = None

    @model_validator(mode="after")
    def _disarmed_by_zero(self) -> CancelAllAfterArmed:
        if (self.timeout_seconds == 0) != (self.armed_until is None):
            raise ValueError("armed_until is given exactly when timeout_seconds is not 0")
        return self
