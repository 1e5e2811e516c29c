"""The ledger's events: holds, settlements, releases, balances."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, Field

from shared.contracts.envelope import Payload, register
from shared.contracts.orders import OrderSpec
from shared.contracts.reasons import DepositRejectReason, RejectReason
from shared.contracts.topics import Topic
from shared.contracts.wallet import WithdrawalSpec
from shared.money import Money, NonNegativeMoney, PositiveMoney


class HoldPurpose(StrEnum):
    ORDER = "order"
    WITHDRAWAL = "withdrawal"


@register
class FundsHeld(Payload):
    """Money moved from available to held; execution may now act on the order or withdrawal."""

    TYPE = "FundsHeld"
    TOPIC = Topic.LEDGER_EVENTS
    hold_id: str
    purpose: HoldPurpose
    asset: str
    amount: PositiveMoney
    order: OrderSpec | None = None
    withdrawal: WithdrawalSpec | None = None


@register
class FundsHoldRejected(Payload):
    TYPE = "FundsHoldRejected"
    TOPIC = Topic.LEDGER_EVENTS
    hold_id: str
    purpose: HoldPurpose
    reason: RejectReason
    asset: str
    requested: PositiveMoney
    available: NonNegativeMoney


@register
class HoldSettled(Payload):
    """Part of a hold was spent (a fill or a sent withdrawal)."""

    TYPE = "HoldSettled"
    TOPIC = Topic.LEDGER_EVENTS
    hold_id: str
    asset: str
    amount: NonNegativeMoney
    remaining: NonNegativeMoney
    fill_id: str | None = None


@register
class HoldReleased(Payload):
    """What was left of a hold went back to available; the hold is closed."""

    TYPE = "HoldReleased"
    TOPIC = Topic.LEDGER_EVENTS
    hold_id: str
    asset: str
    amount: NonNegativeMoney
    reason: str


@register
class BalanceChanged(Payload):
    """The new balance of one (account, asset). `version` only grows: newer wins."""

    TYPE = "BalanceChanged"
    TOPIC = Topic.LEDGER_EVENTS
    asset: str
    available: NonNegativeMoney
    held: NonNegativeMoney
    version: int = Field(ge=1)


@register
class LedgerDiscrepancy(Payload):
    """What the ledger could not book without breaking an invariant: recorded, never lost."""

    TYPE = "LedgerDiscrepancy"
    TOPIC = Topic.LEDGER_EVENTS
    hold_id: str | None = None
    asset: str
    amount: Money
    detail: str


@register
class BalanceDiscrepancyDetected(Payload):
    """The ledger's total (available + held) of one asset at one venue disagrees with what the
    venue reports, beyond the tolerance, on consecutive reports. `difference` is
    `venue_total - ledger_total`: negative when the venue holds less than the ledger says.
    Safety halts the account (kill switch, scope account)."""

    TYPE = "BalanceDiscrepancyDetected"
    TOPIC = Topic.LEDGER_EVENTS
    venue: str
    asset: str
    ledger_total: Money
    venue_total: Money
    difference: Money
    observed_at: AwareDatetime


@register
class DepositCredited(Payload):
    """A `RecordDeposit` was booked: its amount is in the user's available balance."""

    TYPE = "DepositCredited"
    TOPIC = Topic.LEDGER_EVENTS
    deposit_id: str
    asset: str
    amount: PositiveMoney
    venue: str
    reference: str


@register
class DepositRejected(Payload):
    """A `RecordDeposit` the ledger will never book, and why: terminal, nothing moved."""

    TYPE = "DepositRejected"
    TOPIC = Topic.LEDGER_EVENTS
    deposit_id: str
    asset: str
    amount: PositiveMoney
    venue: str
    reference: str
    reason: DepositRejectReason
    detail: str
