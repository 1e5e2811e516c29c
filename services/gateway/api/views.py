"""Response bodies (documented in the OpenAPI schema). Money is a decimal string."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel

from services.gateway.domain import DepositStatus, OrderStatus, WithdrawalStatus, wire_decimal
from services.gateway.store.orders import OrderRow
from services.gateway.store.wallet import DepositRow, WithdrawalRow


class UserCreated(BaseModel):
    user_id: str


class AccessToken(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the scheme's name, not a secret
    expires_in: int


class TwoFactorEnrollment(BaseModel):
    secret: str
    otpauth_uri: str


class TwoFactorEnabled(BaseModel):
    enabled: bool


class ExchangeKeyCreated(BaseModel):
    key_id: str
    exchange: str
    validated: bool


class OrderAccepted(BaseModel):
    order_id: str
    status: OrderStatus


class CancelAccepted(BaseModel):
    order_id: str
    cancel_requested: bool


class CancelAllAfterView(BaseModel):
    armed_until: datetime | None
    """When every open order is cancelled unless the call is repeated first; null: disarmed."""


class FeeView(BaseModel):
    asset: str
    amount: str


class OrderView(BaseModel):
    order_id: str
    status: OrderStatus
    symbol: str
    side: str
    type: str
    mode: str
    exchange: str
    amount: str
    price: str | None
    filled_amount: str
    average_price: str | None
    fee: str
    fee_asset: str | None
    fees: list[FeeView]
    reject_reason: str | None
    reject_detail: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: OrderRow) -> OrderView:
        fees = {asset: wire_decimal(Decimal(amount)) for asset, amount in row.fees.items()}
        return cls(
            order_id=row.order_id,
            status=row.status,
            symbol=row.symbol,
            side=row.side,
            type=row.type,
            mode=row.mode,
            exchange=row.exchange,
            amount=wire_decimal(row.amount),
            price=maybe_decimal(row.price),
            filled_amount=wire_decimal(row.filled_amount),
            average_price=maybe_decimal(row.average_price),
            fee=fees.get(row.fee_asset, "0") if row.fee_asset else "0",
            fee_asset=row.fee_asset,
            fees=[FeeView(asset=asset, amount=amount) for asset, amount in fees.items()],
            reject_reason=row.reject_reason,
            reject_detail=row.reject_detail,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class OrderPage(BaseModel):
    items: list[OrderView]
    next_cursor: str | None


class WithdrawalAccepted(BaseModel):
    withdrawal_id: str
    status: WithdrawalStatus


class WithdrawalView(BaseModel):
    withdrawal_id: str
    status: WithdrawalStatus
    asset: str
    amount: str
    address: str
    network: str | None
    reject_reason: str | None
    reject_detail: str | None
    txid: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: WithdrawalRow) -> WithdrawalView:
        return cls(
            withdrawal_id=row.withdrawal_id,
            status=row.status,
            asset=row.asset,
            amount=wire_decimal(row.amount),
            address=row.address,
            network=row.network,
            reject_reason=row.reject_reason,
            reject_detail=row.reject_detail,
            txid=row.txid,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class BalanceView(BaseModel):
    asset: str
    available: str
    held: str
    total: str


class Balances(BaseModel):
    items: list[BalanceView]


class DepositAccepted(BaseModel):
    deposit_id: str
    status: Literal["requested"] = "requested"


class DepositView(BaseModel):
    deposit_id: str
    user_id: str
    asset: str
    amount: str
    reference: str
    status: DepositStatus
    reject_reason: str | None
    reject_detail: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: DepositRow) -> DepositView:
        return cls(
            deposit_id=row.deposit_id,
            user_id=row.user_id,
            asset=row.asset,
            amount=wire_decimal(row.amount),
            reference=row.reference,
            status=row.status,
            reject_reason=row.reject_reason,
            reject_detail=row.reject_detail,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class AuditItem(BaseModel):
    seq: int
    type: str
    occurred_at: datetime
    producer: str
    correlation_id: str
    hash: str | None
    prev_hash: str | None


class AuditPage(BaseModel):
    items: list[AuditItem]


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}


def maybe_decimal(value: Decimal | None) -> str | None:
    return None if value is None else wire_decimal(value)
