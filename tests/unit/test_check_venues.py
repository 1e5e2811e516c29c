"""The checker with a network venue's books handed in: held to the paper venue's rules."""

from __future__ import annotations

from decimal import Decimal

from cryptoorch.check_venues import (
    Row,
    VenueOrderRecord,
    VenueRecords,
    VenueTradeRecord,
    VenueWithdrawalRecord,
    merge_external,
)
from cryptoorch.invariants import Snapshot, find_violations
from services.execution.domain.orders import client_order_id
from services.execution.venues.ccxt_venue import withdrawal_client_id

ORDER, USER, WITHDRAWAL = "order-1", "user-1", "withdrawal-1"
TRADE = "BTC/USDT:1001:1002"


def snapshot() -> Snapshot:
    """One user: 1000 USDT deposited, a market buy of 0.01 BTC at 65000 filled at binance
    (fee 0.65 USDT), 100 USDT withdrawn there; the ledger and gateway agree."""
    usdt = Decimal(1000) - Decimal(650) - Decimal("0.65") - Decimal(100)
    db: dict[str, list[Row]] = {
        "orders": [
            {
                "order_id": ORDER,
                "user_id": USER,
                "status": "filled",
                "amount": Decimal("0.01"),
                "filled_amount": Decimal("0.01"),
            }
        ],
        "withdrawals": [
            {
                "withdrawal_id": WITHDRAWAL,
                "user_id": USER,
                "status": "sent",
                "asset": "USDT",
                "amount": Decimal(100),
            }
        ],
        "deposits": [
            {
                "deposit_id": "d-1",
                "user_id": USER,
                "asset": "USDT",
                "amount": Decimal(1000),
                "reference": "r-1",
            }
        ],
        "credited_deposits": [{"subreference": "r-1"}],
        "execution_orders": [{"order_id": ORDER, "client_order_id": client_order_id(ORDER)}],
        "ledger_balances": [
            {"owner": USER, "asset": "USDT", "total": usdt, "held": None},
            {"owner": USER, "asset": "BTC", "total": Decimal("0.01"), "held": None},
        ],
        "shown_balances": [],
        "open_holds": [],
        "discrepancies": [],
    }
    for paper in ("venue_orders", "venue_trades", "reported_fills", "venue_withdrawals"):
        db[paper] = []
    return Snapshot(db=db)


def binance(*, orders: int = 1, open_: bool = False) -> VenueRecords:
    return VenueRecords(
        venue="binance",
        orders=[
            VenueOrderRecord(client_order_id(ORDER), f"{1001 + n}", "BTC/USDT", "buy", open_)
            for n in range(orders)
        ],
        trades=[
            VenueTradeRecord(
                TRADE,
                client_order_id(ORDER),
                Decimal("0.01"),
                Decimal(65000),
                Decimal("0.65"),
                "USDT",
            )
        ],
        withdrawals=[VenueWithdrawalRecord(withdrawal_client_id(WITHDRAWAL), "USDT", Decimal(100))],
    )


def test_a_network_venue_that_matches_the_books_passes() -> None:
    snap = snapshot()
    merge_external(snap.db, binance(), [{"venue": "binance", "trade_id": TRADE}])
    assert find_violations(snap) == []


def test_a_second_venue_order_an_open_one_and_an_unreported_trade_are_violations() -> None:
    snap = snapshot()
    merge_external(snap.db, binance(orders=2, open_=True), [])
    found = "\n".join(find_violations(snap))
    assert f"order {ORDER} exists 2 times at the venue" in found
    assert "is still open" in found
    assert f"venue trade {TRADE} was never reported" in found


def test_without_the_venues_books_its_trades_and_withdrawals_are_unaccounted_for() -> None:
    found = "\n".join(find_violations(snapshot()))
    assert "the venue traded 0" in found
    assert f"withdrawal {WITHDRAWAL} is 'sent'; the venue sent nothing" in found
