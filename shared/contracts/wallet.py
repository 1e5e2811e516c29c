"""Wallet commands: deposits (how paper accounts are funded) and withdrawals."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.envelope import Payload, register
from shared.contracts.topics import Topic
from shared.money import PositiveMoney

ASSET_PATTERN = r"^[A-Z0-9]{2,12}$"


class WithdrawalSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    withdrawal_id: str = Field(min_length=1, max_length=64)
    asset: str = Field(pattern=ASSET_PATTERN)
    amount: PositiveMoney
    address: str = Field(min_length=1, max_length=200)
    network: str | None = Field(default=None, max_length=50)
    exchange: str = "paper"


@register
class RecordDeposit(Payload):
    """An admin credit. `venue` + `reference` identify it: the ledger credits it once."""

    TYPE = "RecordDeposit"
    TOPIC = Topic.WALLET_COMMANDS
    deposit_id: str = Field(min_length=1, max_length=64)
    asset: str = Field(pattern=ASSET_PATTERN)
    amount: PositiveMoney
    venue: str = "paper"
    reference: str = Field(min_length=1, max_length=200)
    recorded_by: str | None = Field(default=None, max_length=100)
    """The administrator who recorded it (the audit export's actor); None from older gateways."""


@register
class RequestWithdrawal(Payload):
    TYPE = "RequestWithdrawal"
    TOPIC = Topic.WALLET_COMMANDS
    withdrawal: WithdrawalSpec
    two_factor_verified: bool = False
