from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from shared.money import (
    MoneyError,
    PositiveMoney,
    format_decimal,
    is_multiple,
    multiply,
    parse_decimal,
    quantize_down,
    quantize_up,
)


class Body(BaseModel):
    amount: PositiveMoney


@pytest.mark.parametrize(
    "value, reason",
    [
        (0.1, "JSON number"),
        (1, "JSON number"),
        (True, "JSON number"),
        ("NaN", "decimal string"),
        ("Infinity", "decimal string"),
        ("1e5", "decimal string"),
        ("1E-3", "decimal string"),
        ("0.1234567890123456789", "more than 18 decimals"),
        (" ", "decimal string"),
        (" 1", "no whitespace"),
        ("0.0001\n", "no whitespace"),
        ("1\t", "no whitespace"),
        ("01.5", "decimal string"),
        ("1" * 25, "integer digits"),
        (None, "decimal string"),
    ],
)
def test_anything_but_a_plain_decimal_string_is_refused_with_a_reason(
    value: object, reason: str
) -> None:
    with pytest.raises(MoneyError, match=reason):
        parse_decimal(value)


def test_a_positive_amount_must_be_greater_than_zero() -> None:
    for bad in ("0", "-0.01", "0.000"):
        with pytest.raises(ValidationError, match="greater than 0"):
            Body.model_validate({"amount": bad})


def test_amounts_travel_as_strings_and_keep_their_digits() -> None:
    body = Body.model_validate({"amount": "65000.100000000000000001"})
    assert body.amount == Decimal("65000.100000000000000001")
    assert body.model_dump(mode="json") == {"amount": "65000.100000000000000001"}
    assert Body.model_validate_json(body.model_dump_json()) == body


def test_rounding_never_favours_the_user_over_the_book() -> None:
    third = Decimal(1) / Decimal(3)
    assert quantize_up(third) == Decimal("0.333333333333333334")
    assert quantize_down(third) == Decimal("0.333333333333333333")


@given(
    st.decimals(min_value=Decimal("0.000000000000000001"), max_value=Decimal("1000000"), places=18),
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1000000"), places=8),
)
def test_products_are_exact_before_rounding(amount: Decimal, price: Decimal) -> None:
    exact = multiply(amount, price)
    assert quantize_down(exact) <= exact <= quantize_up(exact)
    assert quantize_up(exact) - quantize_down(exact) <= Decimal("1e-18")


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=18, min_value=-(10**12), max_value=10**12
    )
)
def test_wire_form_round_trips(value: Decimal) -> None:
    assert parse_decimal(format_decimal(value)) == value


@pytest.mark.parametrize(
    ("value", "step", "expected"),
    [
        ("0.00123", "0.00001", True),
        ("0.001234", "0.00001", False),
        ("50000.01", "0.01", True),
        ("0", "0.01", True),
        # the largest amount over the finest step: 38 digits of quotient, past the default 28
        ("99999999999999999999.123456789012345678", "0.000000000000000001", True),
        ("99999999999999999999.12345678901234567", "0.00000000000000002", False),
    ],
)
def test_is_multiple_is_exact_for_every_amount_the_contract_takes(
    value: str, step: str, expected: bool
) -> None:
    assert is_multiple(Decimal(value), Decimal(step)) is expected
