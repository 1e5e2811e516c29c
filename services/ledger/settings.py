"""The ledger's settings: the common ones, how much fee a hold reserves, and when a venue's
reported balances disagree with the ledger (`domain.reconcile`)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import AliasChoices, Field

from shared.settings import CommonSettings


class LedgerSettings(CommonSettings):
    max_fee_rate: Decimal = Field(
        default=Decimal("0.001"),
        ge=0,
        lt=1,
        validation_alias=AliasChoices("CRYPTOORCH_LEDGER_MAX_FEE_RATE", "max_fee_rate"),
    )
    """Fee a buy hold reserves on top of the cost (0.001 = 0.1%, what the paper venue charges)."""
    reconcile_tolerance: Decimal = Field(
        default=Decimal("0.00000001"),
        ge=0,
        validation_alias=AliasChoices(
            "CRYPTOORCH_LEDGER_RECONCILE_TOLERANCE", "reconcile_tolerance"
        ),
    )
    """Absolute difference per asset between the ledger's total at a venue and the venue's that
    is still agreement (0.00000001: one satoshi; the venue's own rounding stays below it)."""
    reconcile_confirmations: int = Field(
        default=2,
        ge=1,
        le=100,
        validation_alias=AliasChoices(
            "CRYPTOORCH_LEDGER_RECONCILE_CONFIRMATIONS", "reconcile_confirmations"
        ),
    )
    """Consecutive compared reports that must disagree before `BalanceDiscrepancyDetected`."""
    reconcile_surplus: bool = Field(
        default=False,
        validation_alias=AliasChoices("CRYPTOORCH_LEDGER_RECONCILE_SURPLUS", "reconcile_surplus"),
    )
    """Also raise when the venue holds more than the ledger (off: funds kept at the venue before
    the key was connected are not the ledger's and must not halt the account)."""
