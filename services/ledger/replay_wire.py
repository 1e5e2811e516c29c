"""Replay's decoder: the ledger's messages read straight into plain structs, checked in C.

The log was validated when it was written, but a topic also holds whatever else was written
to it. So this decoder is strict rather than trusting: msgspec checks, while it parses, every
constraint of the contract (lengths, patterns, enums, money as a decimal string of at most 18
decimals and 20 integer digits) for the messages that move money, in the form our encoder
writes them. A message it does not accept (another form the contract allows, an unknown type,
junk) goes to the contract's own `decode`, which says what it is. What it accepts, `decode`
accepts with the same values; `tests/unit/ledger/test_replay_fast.py` checks both directions.

One pass: the envelope's `type` picks the record struct (`DepositRecord`, `FilledRecord`, ...)
and msgspec reads envelope and body together into it; the record is what the fold takes (no
second object per message). Messages the ledger ignores fail that pass on their `type` and are
recognised by their envelope alone: their bodies are not read.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import msgspec

from shared.contracts import Envelope, UndecodableMessage, decode, registered
from shared.contracts.envelope import MAX_MESSAGE_BYTES
from shared.contracts.execution import FillStatus
from shared.contracts.orders import Mode, OrderType, Side
from shared.contracts.reasons import RejectReason

RELEVANT_TYPES = frozenset(
    {
        "RecordDeposit",
        "DepositDetected",
        "OrderApproved",
        "WithdrawalApproved",
        "OrderFilled",
        "OrderCancelled",
        "OrderFailed",
        "WithdrawalSent",
        "WithdrawalFailed",
    }
)
"""The types `services.ledger.domain.needs` does not ignore (a unit test keeps them equal)."""

_REGISTERED = frozenset(registered())

# Anchored with \A and \Z: msgspec searches, and `$` also matches before a final newline.
_UUID = r"\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z"
_TIMESTAMP = (
    r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})\Z"
)
_POSITIVE = r"\A(?:[1-9][0-9]{0,19}(?:\.[0-9]{1,18})?|0\.(?=[0-9]*[1-9])[0-9]{1,18})\Z"
_NON_NEGATIVE = r"\A(?:0|[1-9][0-9]{0,19})(?:\.[0-9]{1,18})?\Z"

EventId = Annotated[str, msgspec.Meta(pattern=_UUID)]
"""Only the canonical lower-case form: the same id is then always the same string."""
Timestamp = Annotated[str, msgspec.Meta(pattern=_TIMESTAMP)]
Positive = Annotated[str, msgspec.Meta(pattern=_POSITIVE)]
NonNegative = Annotated[str, msgspec.Meta(pattern=_NON_NEGATIVE)]
Asset = Annotated[str, msgspec.Meta(pattern=r"\A[A-Z0-9]{2,12}\Z")]
Symbol = Annotated[str, msgspec.Meta(pattern=r"\A[A-Z0-9]{2,12}/[A-Z0-9]{2,12}\Z")]
Exchange = Annotated[str, msgspec.Meta(pattern=r"\A[a-z0-9_]{2,32}\Z")]
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class _Envelope(msgspec.Struct, gc=False):
    event_id: EventId
    type: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    version: Annotated[int, msgspec.Meta(ge=1)]
    occurred_at: Timestamp
    producer: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
    account_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    correlation_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    payload: msgspec.Raw
    causation_id: EventId | None = None


class RecordDeposit(msgspec.Struct, gc=False):
    deposit_id: Id
    asset: Asset
    amount: Positive
    reference: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    venue: str = "paper"
    recorded_by: Annotated[str, msgspec.Meta(max_length=100)] | None = None


class OrderSpec(msgspec.Struct, gc=False):
    order_id: Id
    symbol: Symbol
    side: Side
    type: OrderType
    amount: Positive
    price: Positive | None = None
    mode: Mode = Mode.PAPER
    exchange: Exchange = "paper"


class OrderApproved(msgspec.Struct, gc=False):
    order: OrderSpec
    reference_price: Positive
    price_band: Positive
    checks: list[str] = []


class OrderFilled(msgspec.Struct, gc=False):
    order_id: str
    trade_id: str
    symbol: str
    side: str
    amount: Positive
    price: Positive
    fee: NonNegative
    fee_asset: str
    status: FillStatus
    cumulative_amount: Positive


class OrderCancelled(msgspec.Struct, gc=False):
    order_id: str
    reason: str = "requested"


class OrderFailed(msgspec.Struct, gc=False):
    order_id: str
    reason: RejectReason
    detail: str


Body = RecordDeposit | OrderApproved | OrderFilled | OrderCancelled | OrderFailed


_UNSET = datetime.min.replace(tzinfo=UTC)


class Record(msgspec.Struct, tag_field="type", kw_only=True, gc=False):
    """A message the ledger acts on, envelope and body read in one pass (the `type` picks the
    body). `raw` and `when` are set by `read_log` (whatever the message says under those names
    is overwritten): the bytes read, and `occurred_at` as a datetime."""

    event_id: EventId
    version: Annotated[int, msgspec.Meta(ge=1)]
    occurred_at: Timestamp
    producer: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
    account_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    correlation_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    causation_id: EventId | None = None
    raw: bytes = b""
    when: datetime = _UNSET

    def message(self) -> Envelope:
        """The contract's reading (decoded on first use: the fast decoder accepted it)."""
        return decode(self.raw)


class DepositRecord(Record, tag="RecordDeposit"):
    payload: RecordDeposit


class ApprovedRecord(Record, tag="OrderApproved"):
    payload: OrderApproved


class FilledRecord(Record, tag="OrderFilled"):
    payload: OrderFilled


class CancelledRecord(Record, tag="OrderCancelled"):
    payload: OrderCancelled


class FailedRecord(Record, tag="OrderFailed"):
    payload: OrderFailed


Fast = DepositRecord | ApprovedRecord | FilledRecord | CancelledRecord | FailedRecord
_ENVELOPE = msgspec.json.Decoder(_Envelope)
_RECORD: msgspec.json.Decoder[Fast] = msgspec.json.Decoder(Fast)


@dataclass(slots=True)
class ByContract:
    """A message the fast decoder did not accept, as the contract's `decode` read it."""

    event_id: str
    when: datetime
    account_id: str
    raw: bytes
    envelope: Envelope

    def message(self) -> Envelope:
        return self.envelope


Logged = Fast | ByContract
"""One message of the log the ledger acts on, as replay needs it."""


@dataclass
class Reading:
    relevant: list[Logged]
    ignored: int = 0
    """Decodable messages of types the ledger does not act on."""
    undecodable: int = 0
    """What the live ledger dead-lettered as undecodable: nothing to rebuild from."""


def read_log(values: Iterable[bytes], reading: Reading | None = None) -> Reading:
    """The messages the ledger acts on, in the order given; counts the rest.

    Callers that read a whole log wrap the run in `no_cycle_collection` (see there)."""
    reading = reading or Reading([])
    keep, record_of, fromisoformat = reading.relevant.append, _RECORD.decode, datetime.fromisoformat
    errors = (msgspec.ValidationError, msgspec.DecodeError, ValueError)
    for raw in values:
        try:
            if len(raw) <= MAX_MESSAGE_BYTES:
                record = record_of(raw)
                if record.version == 1 and (
                    type(record) is not ApprovedRecord or _consistent(record.payload)
                ):
                    record.when, record.raw = fromisoformat(record.occurred_at), raw
                    keep(record)
                    continue
        except errors:
            pass
        _read_other(raw, reading)
    return reading


def _read_other(raw: bytes, reading: Reading) -> None:
    """A message of a type the ledger ignores (known by its envelope alone), or the contract's."""
    try:
        if len(raw) <= MAX_MESSAGE_BYTES:
            env = _ENVELOPE.decode(raw)
            kind = env.type
            if kind not in RELEVANT_TYPES and (kind, env.version) in _REGISTERED:
                datetime.fromisoformat(env.occurred_at)  # a valid envelope, or the contract decides
                reading.ignored += 1
                return
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError):
        pass
    _read_by_contract(raw, reading)


def _consistent(body: OrderApproved) -> bool:
    """The cross-field rule of the contract's `OrderSpec`: a price iff a limit."""
    order = body.order
    return (order.type is OrderType.LIMIT) == (order.price is not None)


def _read_by_contract(raw: bytes, reading: Reading) -> None:
    try:
        envelope = decode(raw)
    except UndecodableMessage:
        reading.undecodable += 1
        return
    if envelope.type not in RELEVANT_TYPES:
        reading.ignored += 1
        return
    event_id, when = str(envelope.event_id), envelope.occurred_at
    reading.relevant.append(ByContract(event_id, when, envelope.account_id, raw, envelope))


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Replay allocates millions of objects that live to the end and hold no cycles: the
    cycle collector would traverse all of them again and again, for nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
