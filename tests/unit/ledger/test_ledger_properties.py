"""Any history keeps the books sound; a calm one ends exactly where a recomputation says."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from hypothesis import HealthCheck, given, settings

from services.ledger.book import Book
from services.ledger.domain.accounts import suspense
from shared.contracts.ledger import LedgerDiscrepancy
from tests.unit.ledger.histories import USERS, History, expected_totals, histories

ASSETS = ("USDT", "BTC")
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def replay(history: History) -> tuple[Book, list[object]]:
    book = Book()
    events: list[object] = []
    for message in history.messages:
        events += book.apply(message)
    return book, events


def totals(book: Book) -> dict[tuple[str, str], Decimal]:
    return {
        (user, asset): sum(pair, Decimal(0))
        for user in USERS
        for asset, pair in book.user_balances(user).items()
    }


@PROPERTY
@given(histories(chaotic=True))
def test_any_history_keeps_every_invariant(history: History) -> None:
    book, _ = replay(history)
    assert book.violations() == []


@PROPERTY
@given(histories(chaotic=True))
def test_every_unit_is_with_a_user_or_in_suspense_never_lost(history: History) -> None:
    book, _ = replay(history)
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for (_, asset), amount in expected_totals(history.messages).items():
        expected[asset] += amount
    owned: dict[str, Decimal] = defaultdict(Decimal)
    for (_, asset), amount in totals(book).items():
        owned[asset] += amount
    for asset in ASSETS:
        assert owned[asset] + book.balance(suspense(asset)) == expected[asset]


@PROPERTY
@given(histories(chaotic=True))
def test_once_everything_has_ended_nothing_stays_held(history: History) -> None:
    book, _ = replay(history)
    if history.holds <= history.ends:
        assert all(held == 0 for user in USERS for _, held in book.user_balances(user).values())


@PROPERTY
@given(histories(chaotic=False))
def test_calm_history_ends_with_the_balances_an_independent_recomputation_gives(
    history: History,
) -> None:
    book, events = replay(history)
    assert book.violations() == []
    assert not [e for e in events if isinstance(e, LedgerDiscrepancy)]
    expected = {k: v for k, v in expected_totals(history.messages).items() if v != 0}
    assert {k: v for k, v in totals(book).items() if v != 0} == expected
    if history.holds <= history.ends:
        assert all(held == 0 for user in USERS for _, held in book.user_balances(user).values())


@PROPERTY
@given(histories(chaotic=False))
def test_the_same_history_replayed_gives_the_same_books(history: History) -> None:
    first, _ = replay(history)
    second, _ = replay(history)
    assert first.balances == second.balances
    assert first.holds == second.holds
