"""Reject reasons: the `reject_reason` codes of API.md. Names are the contract."""

from __future__ import annotations

from enum import StrEnum


class RejectReason(StrEnum):
    ACCOUNT_INACTIVE = "ACCOUNT_INACTIVE"
    INVALID_SYMBOL = "INVALID_SYMBOL"
    AMOUNT_BELOW_MIN = "AMOUNT_BELOW_MIN"
    AMOUNT_ABOVE_MAX = "AMOUNT_ABOVE_MAX"
    PRICE_INVALID = "PRICE_INVALID"
    PRICE_OUT_OF_BAND = "PRICE_OUT_OF_BAND"
    PRICE_UNAVAILABLE = "PRICE_UNAVAILABLE"
    DAILY_VOLUME_EXCEEDED = "DAILY_VOLUME_EXCEEDED"
    HOURLY_TRADE_LIMIT = "HOURLY_TRADE_LIMIT"
    COOLDOWN_ACTIVE = "COOLDOWN_ACTIVE"
    POSITION_LIMIT = "POSITION_LIMIT"
    DAILY_LOSS_LIMIT = "DAILY_LOSS_LIMIT"
    KILL_SWITCH = "KILL_SWITCH"
    DUPLICATE_ORDER = "DUPLICATE_ORDER"
    RESTRICTED = "RESTRICTED"
    TWO_FACTOR_REQUIRED = "TWO_FACTOR_REQUIRED"
    EXCHANGE_KEY_INVALID = "EXCHANGE_KEY_INVALID"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    WITHDRAWAL_DAILY_LIMIT = "WITHDRAWAL_DAILY_LIMIT"
    SUSPICIOUS_ACTIVITY = "SUSPICIOUS_ACTIVITY"
    EXCHANGE_REJECTED = "EXCHANGE_REJECTED"


class DepositRejectReason(StrEnum):
    """Why the ledger refused a deposit (`reject_reason` of a deposit)."""

    REFERENCE_TAKEN = "DEPOSIT_REFERENCE_TAKEN"
    """Another deposit already booked this (venue, reference)."""
    AMOUNT_ABOVE_MAX = "AMOUNT_ABOVE_MAX"
    """More than `shared.money.MAX_DEPOSIT` in one deposit."""
    BALANCE_LIMIT = "BALANCE_LIMIT"
    """Booking it would take a balance the ledger keeps past `shared.money.BALANCE_LIMIT`."""
