"""The ledger's settings: the common ones plus how much fee a hold reserves."""

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
