"""The inbox's type filter: a record of a type the consumer does not act on is skipped before it
is decoded or recorded; every other record (a type it acts on, or no readable type at all) takes
the normal path, where an undecodable one is dead-lettered."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from opentelemetry import trace

from shared import inbox_apply
from shared.clock import utc_now
from shared.contracts import UndecodableMessage, encode, new_message
from shared.contracts.envelope import TYPE_HEADER, peek_type
from shared.contracts.orders import CancelOrder
from shared.contracts.wallet import RecordDeposit
from shared.inbox_apply import BatchApplier, Failure, InboxStats, Record, message_type

ACTS_ON = frozenset({"RecordDeposit"})


def deposit() -> bytes:
    payload = RecordDeposit(deposit_id="d-1", asset="USDT", amount="10", reference="r-1")
    return encode(
        new_message(payload, producer="t", account_id="a", correlation_id="c", now=utc_now())
    )


def cancel() -> bytes:
    payload = CancelOrder(order_id="o-1")
    return encode(
        new_message(payload, producer="t", account_id="a", correlation_id="c", now=utc_now())
    )


def record(offset: int, value: bytes, kind: str | None = None) -> Record:
    headers = [] if kind is None else [(TYPE_HEADER, kind.encode())]
    return ConsumerRecord("t.v1", 0, offset, 0, 0, b"a", value, None, 1, len(value), headers)


class NoPool:
    """A pool the filter must not touch for a batch it skips entirely."""

    def acquire(self) -> Any:
        raise AssertionError("the database was used")


class Applier(BatchApplier):
    """The filter in front of the normal path, which is replaced by a recorder (the normal
    path's own behaviour is tested against PostgreSQL)."""

    def __init__(self, fail_at: Record | None = None) -> None:
        super().__init__(
            NoPool(),  # type: ignore[arg-type]
            lambda conn, message: asyncio.sleep(0),
            None,
            InboxStats(),
            trace.get_tracer("test"),
            ACTS_ON,
        )
        self.normal_path: list[Record] = []
        self._fail_at = fail_at

    async def _apply_acted(self, records: list[Record]) -> tuple[int, Failure | None]:
        self.normal_path += records
        if self._fail_at is not None and self._fail_at in records:
            done = records.index(self._fail_at)
            return done, Failure(self._fail_at, UndecodableMessage("bad"))
        return len(records), None


@pytest.fixture
def no_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(raw: bytes) -> Any:
        raise AssertionError("an ignored record was decoded")

    monkeypatch.setattr(inbox_apply, "decode", refuse)


async def test_a_batch_of_ignored_types_is_done_without_decoding_or_the_database(
    no_decode: None,
) -> None:
    applier = Applier()
    batch = [record(0, cancel(), "CancelOrder"), record(1, b"not json", "CancelOrder")]
    assert await applier.apply(batch) == (2, None)
    assert applier.normal_path == []
    assert applier.stats.ignored == 2


async def test_only_the_types_acted_on_take_the_normal_path() -> None:
    applier = Applier()
    acted, ignored = record(1, deposit(), "RecordDeposit"), record(0, cancel(), "CancelOrder")
    assert await applier.apply([ignored, acted]) == (2, None)
    assert applier.normal_path == [acted]
    assert applier.stats.ignored == 1


async def test_without_the_header_the_type_is_peeked_from_the_json() -> None:
    applier = Applier()
    acted, ignored = record(0, deposit()), record(1, cancel())
    assert message_type(acted) == "RecordDeposit"
    assert await applier.apply([acted, ignored]) == (2, None)
    assert applier.normal_path == [acted]


@pytest.mark.parametrize("value", [b"not json", b"[1]", b'{"type": 3}', b"{}", b""])
async def test_a_record_with_no_readable_type_takes_the_normal_path(value: bytes) -> None:
    unreadable = record(0, value)
    assert message_type(unreadable) is None
    applier = Applier()
    await applier.apply([unreadable, record(1, cancel(), "CancelOrder")])
    assert applier.normal_path == [unreadable]


async def test_a_failure_stops_at_the_failing_record_and_counts_the_skipped_before_it() -> None:
    bad = record(2, b"not json")
    applier = Applier(fail_at=bad)
    batch = [
        record(0, cancel(), "CancelOrder"),
        record(1, deposit(), "RecordDeposit"),
        bad,
        record(3, cancel(), "CancelOrder"),
    ]
    done, failure = await applier.apply(batch)
    assert (done, failure and failure.record) == (2, bad)  # the next try starts at `bad`
    assert applier.stats.ignored == 1


async def test_every_record_takes_the_normal_path_when_no_types_are_declared() -> None:
    applier = Applier()
    applier._acts_on = None
    batch = [record(0, cancel(), "CancelOrder"), record(1, b"not json")]
    assert await applier.apply(batch) == (2, None)
    assert applier.normal_path == batch


def test_peek_refuses_an_oversized_message() -> None:
    assert peek_type(b'{"type": "CancelOrder", "pad": "' + b"x" * 300_000 + b'"}') is None
