"""Replay's decoder: the ledger's messages read straight into plain structs, checked in C.

The log was validated when it was written, but a topic also holds whatever else was written
to it. So this decoder is strict rather than trusting: msgspec checks, while it parses, every
constraint of the contract (lengths, patterns, enums, money as a decimal string of at most 18
decimals and 20 integer digits) for the messages that move money, in the form our encoder
writes them. A message it does not accept (another form the contract allows, an unknown type,
junk) goes to the contract's own `decode`, which says what it is. What it accepts, `decode`
accepts with the same values; `tests/unit/ledger/test_replay_fast.py` checks both directions.

Messages the ledger ignores are recognised by their envelope alone: their bodies are not read.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
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
_ENVELOPE = msgspec.json.Decoder(_Envelope)
_DECODERS: dict[str, msgspec.json.Decoder[Body]] = {
    cls.__name__: msgspec.json.Decoder(cls)
    for cls in (RecordDeposit, OrderApproved, OrderFilled, OrderCancelled, OrderFailed)
}


@dataclass(slots=True)
class Logged:
    """One message of the log the ledger acts on, as replay needs it."""

    event_id: str
    occurred_at: datetime
    account_id: str
    type: str
    body: Body | None
    """Read by the fast decoder, or None: then `envelope` holds the contract's reading."""
    raw: bytes
    envelope: Envelope | None = None

    def message(self) -> Envelope:
        """The contract's reading (decoded on first use: the fast decoder accepted it)."""
        if self.envelope is None:
            self.envelope = decode(self.raw)
        return self.envelope


@dataclass
class Reading:
    relevant: list[Logged]
    ignored: int = 0
    """Decodable messages of types the ledger does not act on."""
    undecodable: int = 0
    """What the live ledger dead-lettered as undecodable: nothing to rebuild from."""


def read_log(values: Iterable[bytes], reading: Reading | None = None) -> Reading:
    """The messages the ledger acts on, in the order given; counts the rest."""
    reading = reading or Reading([])
    with no_cycle_collection():
        _read(values, reading)
    return reading


def _read(values: Iterable[bytes], reading: Reading) -> None:
    keep = reading.relevant.append
    envelope_of, decoders, fromisoformat = _ENVELOPE.decode, _DECODERS, datetime.fromisoformat
    for raw in values:
        try:
            if len(raw) > MAX_MESSAGE_BYTES:
                raise ValueError("too big")
            env = envelope_of(raw)
            kind = env.type
            if kind not in RELEVANT_TYPES and (kind, env.version) in _REGISTERED:
                fromisoformat(env.occurred_at)  # a valid envelope, or the contract decides
                reading.ignored += 1
                continue
            body = decoders[kind].decode(env.payload) if env.version == 1 else None
            if body is not None and _consistent(body):
                when = fromisoformat(env.occurred_at)
                keep(Logged(env.event_id, when, env.account_id, kind, body, raw))
                continue
        except (msgspec.ValidationError, msgspec.DecodeError, ValueError, KeyError):
            pass
        _read_by_contract(raw, reading)


def _consistent(body: Body) -> bool:
    """The cross-field rules of the contract's models (`OrderSpec`: a price iff a limit)."""
    if isinstance(body, OrderApproved):
        order = body.order
        return (order.type is OrderType.LIMIT) == (order.price is not None)
    return True


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
    reading.relevant.append(
        Logged(event_id, when, envelope.account_id, envelope.type, None, raw, envelope)
    )


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
