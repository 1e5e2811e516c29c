"""A failed rule: the reason code of API.md, the rule's name, and the values it compared."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from shared.contracts.reasons import RejectReason
from shared.money import format_decimal


@dataclass(frozen=True)
class Rejection:
    reason: RejectReason
    rule: str
    detail: str
    values: dict[str, str] = field(default_factory=dict)


def shown(value: Decimal | int | str) -> str:
    """A compared value as it travels in `values`: plain notation without trailing zeros."""
    if isinstance(value, Decimal):
        text = format_decimal(value)
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(value)
