"""The one money type: `Decimal`, strings on the wire, NUMERIC(38, 18) in PostgreSQL.

Every amount, price and fee in the system passes through `parse_decimal` when it
crosses a boundary (HTTP body, Kafka message, database row), so a float, a NaN,
an exponent or a 19th decimal never gets in.
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

SCALE = 18
"""Decimals kept for every amount (NUMERIC(38, 18))."""
MAX_INTEGER_DIGITS = 20
COLUMN_CAPACITY = Decimal(10) ** MAX_INTEGER_DIGITS
"""NUMERIC(38, 18) holds any value strictly between -10^20 and 10^20, nothing beyond."""
BALANCE_LIMIT = COLUMN_CAPACITY / 10
"""The most any balance the ledger keeps may reach either way (10^19): a user's, or `world`'s,
which holds minus every deposit of an asset. The ledger refuses a deposit that would pass it;
the tenfold headroom to the column is for what it books without asking (fills, releases)."""
MAX_DEPOSIT = BALANCE_LIMIT / 10
"""The largest single deposit (10^18): the gateway refuses more (422), the ledger too."""
QUANTUM = Decimal(1).scaleb(-SCALE)
_DECIMAL_STRING = re.compile(r"^-?(0|[1-9]\d*)(\.\d+)?$")
_CONTEXT = Context(prec=80, rounding=ROUND_HALF_EVEN)


class MoneyError(ValueError):
    """A value that is not an acceptable amount; the message says why."""


def parse_decimal(value: object) -> Decimal:
    """Accept a decimal string (or a `Decimal`) and nothing else.

    Floats and JSON numbers are refused outright: a float cannot hold 0.1, and
    accepting one would make every later check depend on binary rounding.
    """
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, str):
        # fullmatch, not match: `$` also matches before a trailing newline ("1\n"), and the
        # contract's pattern allows no whitespace anywhere (" 1" is as ambiguous as "1 ").
        if len(value) > 64 or not _DECIMAL_STRING.fullmatch(value):
            raise MoneyError(
                'must be a decimal string like "0.015" (no exponent, no NaN or Infinity, '
                "no whitespace)"
            )
        result = Decimal(value)
    elif isinstance(value, bool | int | float):
        raise MoneyError("must be a decimal string, not a JSON number")
    else:
        raise MoneyError("must be a decimal string")
    if not result.is_finite():
        raise MoneyError("must be finite")
    exponent = result.as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > SCALE:
        raise MoneyError(f"has more than {SCALE} decimals")
    if result.adjusted() >= MAX_INTEGER_DIGITS:
        raise MoneyError(f"has more than {MAX_INTEGER_DIGITS} integer digits")
    return result + 0 if result == 0 else result  # normalise -0


def format_decimal(value: Decimal) -> str:
    """The wire form: plain notation, no exponent, trailing zeros kept as given."""
    return format(value, "f")


def shortest(value: Decimal) -> str:
    """For people: plain notation without trailing zeros (`1.960000` → `1.96`), so a text
    reads the same whether the amount came from memory or from a NUMERIC(38, 18) column."""
    return format(value.normalize(), "f") if value else "0"


def _positive(value: object) -> Decimal:
    result = parse_decimal(value)
    if result <= 0:
        raise MoneyError("must be greater than 0")
    return result


def _deposit(value: object) -> Decimal:
    result = _positive(value)
    if result > MAX_DEPOSIT:
        raise MoneyError(f"must be at most {MAX_DEPOSIT:f}")
    return result


def exact() -> AbstractContextManager[Context]:
    """A decimal context in which sums of amounts are exact: Python's default keeps 28 digits,
    so an amount of 20 integer digits and 18 decimals would be rounded when added."""
    return localcontext(_CONTEXT)


def within_books(balance: Decimal) -> bool:
    """`balance` is one the ledger may keep: at most `BALANCE_LIMIT` either way."""
    return abs(balance) <= BALANCE_LIMIT


def _non_negative(value: object) -> Decimal:
    result = parse_decimal(value)
    if result < 0:
        raise MoneyError("must not be negative")
    return result


_AS_STRING = PlainSerializer(format_decimal, return_type=str, when_used="always")
_SCHEMA = WithJsonSchema(
    {"type": "string", "pattern": _DECIMAL_STRING.pattern, "examples": ["0.015", "65000.10"]}
)

Money = Annotated[Decimal, BeforeValidator(parse_decimal), _AS_STRING, _SCHEMA]
"""Any amount, possibly negative or zero (balances, differences)."""
PositiveMoney = Annotated[Decimal, BeforeValidator(_positive), _AS_STRING, _SCHEMA]
"""An amount, quantity or price that must be > 0."""
DepositAmount = Annotated[Decimal, BeforeValidator(_deposit), _AS_STRING, _SCHEMA]
"""A deposit: > 0 and at most `MAX_DEPOSIT`."""
NonNegativeMoney = Annotated[Decimal, BeforeValidator(_non_negative), _AS_STRING, _SCHEMA]
"""A fee or balance that may be 0 but never negative."""


def quantize_up(value: Decimal) -> Decimal:
    """Round towards +infinity to 18 decimals: holds and fees are never under-counted."""
    with localcontext(_CONTEXT):
        return value.quantize(QUANTUM, rounding=ROUND_CEILING)


def quantize_down(value: Decimal) -> Decimal:
    """Round towards -infinity to 18 decimals: what a user receives is never over-counted."""
    with localcontext(_CONTEXT):
        return value.quantize(QUANTUM, rounding=ROUND_FLOOR)


def is_multiple(value: Decimal, step: Decimal) -> bool:
    """`value` is a whole number of `step`s (a lot or tick size), exactly: with 80 digits of
    precision the largest amount over the finest step still divides (the default 28 raise)."""
    with localcontext(_CONTEXT):
        return value % step == 0


def multiply(a: Decimal, b: Decimal) -> Decimal:
    """Exact product (80 digits of precision); the caller chooses how to round."""
    with localcontext(_CONTEXT):
        return a * b
