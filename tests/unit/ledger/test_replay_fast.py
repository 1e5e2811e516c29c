"""Replay's fast path (fast decoder + `Tally`) ends exactly where `decode` + `Book.apply` end.

Whatever the history (calm, chaotic, redelivered, foreign, malformed), folding its bytes
through the fast path gives the same balances, holds, journal, booked keys, decided deposits,
discrepancies and refusals (with the same reasons) as the domain's book over the decoded
messages; and the fast decoder accepts a message only when the contract's `decode` does.
"""

from __future__ import annotations

import json
import random
import uuid
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ledger.book import Book
from services.ledger.domain import needs
from services.ledger.replay import fold
from services.ledger.replay_wire import RELEVANT_TYPES, ByContract, Fast, read_log
from services.ledger.tally import Tally
from services.ledger.tally_rows import row_of
from shared.contracts import Envelope, UndecodableMessage, decode, encode, registered
from shared.contracts.decisions import OrderApproved
from shared.contracts.execution import OrderFilled
from tests.unit.ledger.histories import History, histories
from tests.unit.ledger.messages import (
    approve,
    approve_withdrawal,
    cancelled,
    deposit,
    detected,
    failed,
    fill,
    sent,
    withdrawal_failed,
)

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fast_fold(messages: list[Envelope]) -> Tally:
    reading = read_log(encode(m) for m in messages)
    assert reading.undecodable == 0
    return Tally().fold(reading.relevant)


def assert_same(tally: Tally, book: Book) -> None:
    assert tally.balance_map() == book.balances
    assert {i: row.as_hold(i) for i, row in tally.holds.items()} == book.holds
    journal = [(*row_of(b.entry), b.owner, str(b.cause_event_id)) for b in book.journal]
    assert [(key, postings, owner, cause) for key, owner, cause, postings in tally.journal] == (
        journal
    )
    assert tally.booked == {(k.kind.value, k.reference, k.subreference) for k in book.booked}
    assert tally.deposits == book.deposits
    assert tally.discrepancies == book.discrepancies
    assert tally.applied == book.applied
    refused = [(m.event_id, why) for m, why in tally.refused]
    assert refused == [(str(m.event_id), why) for m, why in book.refused]
    assert tally.violations() == book.violations()


def perturb(history: History, rng: random.Random) -> list[Envelope]:
    """The history with what a topic may also hold: another user's messages for the same
    holds, fills the ledger cannot read, an event id reused with other content."""
    messages = list(history.messages)
    for message in list(messages):
        roll = rng.random()
        if roll < 0.05:
            new = {"account_id": "mallory", "event_id": uuid.uuid4()}
            messages.insert(rng.randrange(len(messages) + 1), message.model_copy(update=new))
        elif roll < 0.08 and isinstance(message.payload, OrderFilled):
            bad = {"symbol": rng.choice(["BTCUSDT", "btc/usdt", "BTC/USDT\n"])}
            if rng.random() < 0.5:
                bad = {"side": "hold"}
            body = message.payload.model_copy(update=bad)
            messages.append(message.model_copy(update={"payload": body, "event_id": uuid.uuid4()}))
        elif roll < 0.1:
            copy = messages[rng.randrange(len(messages))]
            messages.append(copy.model_copy(update={"event_id": message.event_id}))
    return messages


@PROPERTY
@given(histories(chaotic=True), st.randoms(use_true_random=False))
def test_a_chaotic_history_folds_the_same_fast_as_through_the_book(
    history: History, rng: random.Random
) -> None:
    messages = perturb(history, rng)
    assert_same(fast_fold(messages), fold(messages))


@PROPERTY
@given(histories(chaotic=False), st.randoms(use_true_random=False))
def test_a_calm_history_folds_the_same_and_mostly_without_the_domain(
    history: History, rng: random.Random
) -> None:
    messages = perturb(history, rng)
    tally = fast_fold(messages)
    assert_same(tally, fold(messages))


def test_the_common_messages_take_the_fast_step() -> None:
    funded = deposit("1000")
    log = [
        funded,
        approve("o-1", "1", price="99"),
        fill("o-1", "t1", "0.5", "98", fee="0.01"),
        fill("o-1", "t2", "0.5", "98", fee="0.01", done=True),
        approve("o-2", "1", price="99"),
        cancelled("o-2"),
        approve("o-3", "0.1"),
        failed("o-3"),
        funded,
    ]
    tally = fast_fold(log)
    assert tally.by_domain == 0
    assert_same(tally, fold(log))


def test_the_ledger_acts_on_exactly_the_relevant_types() -> None:
    acted_on = [
        deposit("1"),
        detected("1"),
        approve("o", "1"),
        approve_withdrawal("w", "1"),
        fill("o", "t", "1", "1"),
        cancelled("o"),
        failed("o"),
        sent("w", "1"),
        withdrawal_failed("w"),
    ]
    assert {m.type for m in acted_on} == RELEVANT_TYPES
    assert all(needs(m.payload) is not None for m in acted_on)
    for kind, _ in registered():
        if kind not in RELEVANT_TYPES:
            cls = registered()[(kind, 1)]
            assert needs(cls.model_construct()) is None, kind


def _mutations(raw: bytes) -> st.SearchStrategy[bytes]:
    """`raw` with one field (envelope or body, nested or not) set to an arbitrary value."""
    data = json.loads(raw)
    paths: list[tuple[str, ...]] = [(k,) for k in data] + [("payload", k) for k in data["payload"]]
    if "order" in data["payload"]:
        paths += [("payload", "order", k) for k in data["payload"]["order"]]
    values = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-2, 2),
        st.floats(allow_nan=False),
        st.text(max_size=30),
        st.sampled_from(
            [
                "0",
                "-0",
                "0.000",
                "1e3",
                "1.0000000000000000001",
                "123456789012345678901",
                " 1",
                "1\n",
                "NaN",
                "limit",
                "market",
                "sell",
                "filled",
                "EXCHANGE_REJECTED",
                "2026-01-01T00:00:00",
                "2026-13-01T00:00:00Z",
                "2026-01-01T00:00:00.1234567Z",
                "2026-01-01T00:00:00+24:00",
                "AB/CD",
                "ab",
                "A" * 65,
                "00000000-0000-0000-0000-00000000000G",
                "00000000-0000-0000-0000-00000000000A",
            ]
        ),
    )

    def mutate(path: tuple[str, ...], value: Any) -> bytes:
        copy = json.loads(raw)
        node = copy
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value
        return json.dumps(copy).encode()

    return st.builds(mutate, st.sampled_from(paths), values)


SAMPLES = [
    deposit("10"),
    approve("o", "1", price="99"),
    approve("o", "1"),
    fill("o", "t", "1", "99", fee="0.1", done=True),
    cancelled("o"),
    failed("o"),
]


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(SAMPLES).flatmap(lambda m: _mutations(encode(m))))
def test_the_fast_decoder_accepts_only_what_the_contract_accepts_with_its_values(
    raw: bytes,
) -> None:
    reading = read_log([raw])
    try:
        message = decode(raw)
    except UndecodableMessage:
        assert reading.undecodable == 1
        return
    if message.type not in RELEVANT_TYPES:
        assert reading.ignored == 1
        return
    [logged] = reading.relevant
    assert (logged.event_id, logged.when) == (str(message.event_id), message.occurred_at)
    assert logged.account_id == message.account_id
    if not isinstance(logged, ByContract):
        assert logged.raw == raw
        _same_values(logged, message)


def _same_values(logged: Fast, message: Envelope) -> None:
    """Every field the fast step reads equals the contract's reading."""
    body, payload = logged.payload, message.payload
    for name in body.__struct_fields__:
        ours, theirs = getattr(body, name), getattr(payload, name)
        if name == "order":
            assert isinstance(payload, OrderApproved)
            for field in ours.__struct_fields__:
                _equal(getattr(ours, field), getattr(payload.order, field))
        else:
            _equal(ours, theirs)


def _equal(ours: object, theirs: object) -> None:
    if isinstance(theirs, Decimal):
        assert isinstance(ours, str)
        assert Decimal(ours) == theirs and str(Decimal(ours)) == str(theirs)
    else:
        assert ours == theirs


def test_what_a_message_says_under_the_records_own_names_is_not_taken() -> None:
    """`raw` and `when` are the record's (the bytes read, `occurred_at` parsed): a message
    carrying those keys is read as if it did not, or by the contract."""
    message = deposit("10")
    data = json.loads(encode(message))
    for extra in ({"raw": "AAAA", "when": "2000-01-01T00:00:00Z"}, {"raw": 1, "when": "x"}):
        raw = json.dumps({**data, **extra}).encode()
        [logged] = read_log([raw]).relevant
        assert (logged.raw, logged.when) == (raw, message.occurred_at)
