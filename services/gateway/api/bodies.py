"""Request bodies. Money endpoints forbid unknown fields; amounts are decimal strings only
(`shared.money.PositiveMoney`: a JSON number, NaN, an exponent, 19 decimals or <= 0 is 422)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from services.gateway.emails import checked_email, normalised_email
from shared.contracts.accounts import KillSwitchMode, KillSwitchScope
from shared.contracts.orders import (
    CANCEL_ALL_AFTER_MAX_SECONDS,
    SYMBOL_PATTERN,
    Mode,
    OrderSpec,
    OrderType,
    Side,
)
from shared.contracts.restrictions import RestrictionScope
from shared.contracts.wallet import ASSET_PATTERN, WithdrawalSpec
from shared.money import DepositAmount, PositiveMoney

EXCHANGE_PATTERN = r"^[a-z0-9_]{2,32}$"
PAPER = "paper"


def _texts(value: object, where: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a JSON value, with where it is (`order.symbol`)."""
    if isinstance(value, str):
        yield where or "body", value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _texts(item, f"{where}[{index}]")


def storable(text: str) -> bool:
    """Text PostgreSQL can store and UTF-8 can encode: no NUL, no unpaired surrogate."""
    return "\x00" not in text and not any("\ud800" <= c <= "\udfff" for c in text)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: Any) -> Any:
        """Refuse (422) what would otherwise fail deep down as a 500: a NUL character in any
        field (secrets too), an unpaired surrogate in a secret (plain strings refuse it)."""
        for where, text in _texts(data):
            if not storable(text):
                raise ValueError(f"{where}: must not contain NUL or unpaired surrogate characters")
        return data


class RegisterBody(Body):
    email: str = Field(max_length=254, examples=["ada@example.com"])
    password: SecretStr = Field(min_length=8, max_length=256)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return checked_email(value)


class LoginBody(Body):
    email: str = Field(min_length=1, max_length=254)
    password: SecretStr = Field(min_length=1, max_length=256)
    totp_code: str | None = Field(default=None, max_length=16)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return normalised_email(value)


class TotpCodeBody(Body):
    code: str = Field(min_length=1, max_length=16, examples=["123456"])


class ExchangeKeyBody(Body):
    exchange: str = Field(pattern=EXCHANGE_PATTERN, examples=["binance"])
    api_key: SecretStr = Field(min_length=1, max_length=512)
    secret: SecretStr = Field(min_length=1, max_length=512)
    password: SecretStr | None = Field(default=None, max_length=512)


class PlaceOrderBody(Body):
    symbol: str = Field(pattern=SYMBOL_PATTERN, examples=["BTC/USDT"])
    side: Side
    type: OrderType
    amount: PositiveMoney
    """In the base asset."""
    price: PositiveMoney | None = None
    mode: Mode = Mode.PAPER
    exchange: str | None = Field(default=None, pattern=EXCHANGE_PATTERN)

    @model_validator(mode="after")
    def _consistent(self) -> PlaceOrderBody:
        if self.type is OrderType.LIMIT and self.price is None:
            raise ValueError("a limit order needs a price")
        if self.type is OrderType.MARKET and self.price is not None:
            raise ValueError("a market order takes no price")
        if self.mode is Mode.PAPER and self.exchange not in (None, PAPER):
            raise ValueError('a paper order runs on the "paper" exchange')
        if self.mode is Mode.REAL and self.exchange in (None, PAPER):
            raise ValueError("a real order names its exchange (a ccxt id)")
        return self

    def spec(self, order_id: str) -> OrderSpec:
        return OrderSpec(
            order_id=order_id,
            symbol=self.symbol,
            side=self.side,
            type=self.type,
            amount=self.amount,
            price=self.price,
            mode=self.mode,
            exchange=self.exchange or PAPER,
        )


class WithdrawalBody(Body):
    asset: str = Field(pattern=ASSET_PATTERN, examples=["USDT"])
    amount: PositiveMoney
    address: str = Field(pattern=r"^[\x21-\x7e]{1,200}$")
    network: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,50}$")
    exchange: str = Field(default=PAPER, pattern=EXCHANGE_PATTERN)

    def spec(self, withdrawal_id: str) -> WithdrawalSpec:
        return WithdrawalSpec(
            withdrawal_id=withdrawal_id,
            asset=self.asset,
            amount=self.amount,
            address=self.address,
            network=self.network,
            exchange=self.exchange,
        )


class DepositBody(Body):
    user_id: str = Field(min_length=1, max_length=64)
    asset: str = Field(pattern=ASSET_PATTERN, examples=["USDT"])
    amount: DepositAmount
    """At most `shared.money.MAX_DEPOSIT`: more could not be held by the books (422)."""
    reference: str = Field(min_length=1, max_length=200)


class CancelAllAfterBody(Body):
    timeout_seconds: StrictInt = Field(ge=0, le=CANCEL_ALL_AFTER_MAX_SECONDS)
    """Seconds until every open order of the caller is cancelled, unless called again first;
    0 disarms. A JSON integer only (1.5, "5" or true is 422)."""


class KillSwitchBody(Body):
    scope: KillSwitchScope
    target: str | None = Field(default=None, min_length=1, max_length=64)
    """A user id (scope account: any letter case, resolved to the stored id) or `BASE/QUOTE`
    (scope symbol: upper-cased)."""
    engaged: StrictBool
    reason: str = Field(min_length=1, max_length=500)
    mode: KillSwitchMode = KillSwitchMode.HALT

    @field_validator("target")
    @classmethod
    def _symbol_upper_cased(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("scope") is KillSwitchScope.SYMBOL:
            return value.upper()
        return value

    @model_validator(mode="after")
    def _target_fits_scope(self) -> KillSwitchBody:
        if self.scope is KillSwitchScope.GLOBAL and self.target is not None:
            raise ValueError("a global switch takes no target")
        if self.scope is not KillSwitchScope.GLOBAL and self.target is None:
            raise ValueError(f"a {self.scope} switch needs a target")
        if self.scope is KillSwitchScope.SYMBOL and not re.fullmatch(
            SYMBOL_PATTERN, self.target or ""
        ):
            raise ValueError("target must be a symbol like BTC/USDT")
        return self


class RestrictionBody(Body):
    scope: RestrictionScope
    target: str = Field(min_length=1, max_length=64)
    """A user id (scope account: any letter case, resolved to the stored id) or `BASE/QUOTE`
    (scope symbol: upper-cased)."""
    restricted: StrictBool
    reason: str = Field(min_length=1, max_length=500)

    @field_validator("target")
    @classmethod
    def _symbol_upper_cased(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("scope") is RestrictionScope.SYMBOL:
            value = value.upper()
            if not re.fullmatch(SYMBOL_PATTERN, value):
                raise ValueError("target must be a symbol like BTC/USDT")
        return value


class RedriveBody(Body):
    """One dead letter (`partition`, `offset`) or every one of `topic` (`all`), not both."""

    topic: str = Field(pattern=r"^[a-z0-9.]+\.dlq$", max_length=100)
    partition: int = Field(default=0, ge=0, le=10_000)
    offset: int | None = Field(default=None, ge=0)
    all: StrictBool = False

    @model_validator(mode="after")
    def _one_or_all(self) -> RedriveBody:
        if (self.offset is None) == (not self.all):
            raise ValueError("name one dead letter (offset) or all of the topic (all), not both")
        return self
