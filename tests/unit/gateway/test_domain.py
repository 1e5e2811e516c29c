"""How an order's status and totals follow events that may arrive in any order."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.gateway.domain import (
    Fill,
    OrderStatus,
    WithdrawalStatus,
    next_order_status,
    next_withdrawal_status,
    summarize_fills,
    wire_decimal,
)

S = OrderStatus


@pytest.mark.parametrize(
    ("current", "proposed", "expected"),
    [
        (S.REQUESTED, S.APPROVED, S.APPROVED),
        (S.APPROVED, S.FUNDS_HELD, S.FUNDS_HELD),
        (S.REQUESTED, S.SUBMITTED, S.SUBMITTED),
        (S.SUBMITTED, S.FUNDS_HELD, S.SUBMITTED),
        (S.PARTIALLY_FILLED, S.APPROVED, S.PARTIALLY_FILLED),
        (S.SUBMITTED, S.PARTIALLY_FILLED, S.PARTIALLY_FILLED),
        (S.PARTIALLY_FILLED, S.FILLED, S.FILLED),
        (S.APPROVED, S.REJECTED, S.REJECTED),
        (S.REQUESTED, S.FILLED, S.FILLED),
    ],
)
def test_status_only_moves_forward(current: S, proposed: S, expected: S) -> None:
    assert next_order_status(current, proposed) is expected


@pytest.mark.parametrize("terminal", [S.FILLED, S.REJECTED, S.CANCELLED, S.FAILED])
@pytest.mark.parametrize("late", list(S))
def test_a_terminal_status_is_final(terminal: S, late: S) -> None:
    assert next_order_status(terminal, late) is terminal


def test_a_late_approval_does_not_undo_an_insufficient_funds_rejection() -> None:
    status = next_order_status(S.REQUESTED, S.REJECTED)
    assert next_order_status(status, S.APPROVED) is S.REJECTED


def test_withdrawal_status_moves_forward_and_stops_at_terminal() -> None:
    w = WithdrawalStatus
    assert next_withdrawal_status(w.REQUESTED, w.FUNDS_HELD) is w.FUNDS_HELD
    assert next_withdrawal_status(w.FUNDS_HELD, w.APPROVED) is w.FUNDS_HELD
    assert next_withdrawal_status(w.FUNDS_HELD, w.SENT) is w.SENT
    assert next_withdrawal_status(w.SENT, w.FAILED) is w.SENT
    assert next_withdrawal_status(w.REJECTED, w.APPROVED) is w.REJECTED


def test_fills_add_up_to_amount_weighted_price_and_fees() -> None:
    summary = summarize_fills(
        [
            Fill("t1", Decimal("0.004"), Decimal("65000"), Decimal("0.26"), "USDT"),
            Fill("t2", Decimal("0.006"), Decimal("65100"), Decimal("0.3906"), "USDT"),
        ]
    )
    assert summary.filled_amount == Decimal("0.010")
    assert summary.average_price == Decimal("65060")
    assert (summary.fee, summary.fee_asset) == (Decimal("0.6506"), "USDT")


def test_fees_in_several_assets_are_kept_apart() -> None:
    summary = summarize_fills(
        [
            Fill("t1", Decimal("1"), Decimal("10"), Decimal("0.01"), "USDT"),
            Fill("t2", Decimal("1"), Decimal("10"), Decimal("0.001"), "BNB"),
        ]
    )
    assert summary.fees == {"USDT": Decimal("0.01"), "BNB": Decimal("0.001")}


def test_no_fills_means_nothing_filled_and_no_average() -> None:
    summary = summarize_fills([])
    assert summary.filled_amount == 0
    assert summary.average_price is None
    assert summary.fee == 0
    assert summary.fee_asset is None


def test_an_average_that_does_not_divide_evenly_is_rounded_to_18_decimals() -> None:
    summary = summarize_fills(
        [
            Fill("a", Decimal("1"), Decimal("1"), Decimal("0"), "USDT"),
            Fill("b", Decimal("2"), Decimal("2"), Decimal("0"), "USDT"),
        ]
    )
    assert summary.average_price == Decimal("1.666666666666666666")


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        ("0.010000000000000000", "0.01"),
        ("65000.000000000000000000", "65000"),
        ("0E-18", "0"),
        ("100", "100"),
        ("1E+2", "100"),
        ("0.000000000000000001", "0.000000000000000001"),
    ],
)
def test_amounts_leave_as_plain_decimal_strings(value: str, wire: str) -> None:
    assert wire_decimal(Decimal(value)) == wire
