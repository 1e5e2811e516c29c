"""The database ledger and the in-memory book (replay, property tests) decide exactly alike,
whether the ledger applies a message at a time or a whole batch at once."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from services.ledger.app import MIGRATIONS, NAME
from services.ledger.batch import make_batch_handler
from services.ledger.book import Book
from services.ledger.domain import Hold, HoldStatus, LedgerPolicy
from services.ledger.errors import LedgerError
from services.ledger.handlers import make_handler
from services.ledger.invariants import check_invariants
from services.ledger.replay import live_balances
from services.ledger.settings import LedgerSettings
from shared.contracts import Envelope, Payload, decode
from shared.contracts.ledger import HoldPurpose
from shared.contracts.orders import Side
from shared.db import Connection, create_pool
from shared.emitter import Emitter
from shared.service import prepare_database
from tests.unit.ledger.messages import (
    approve,
    approve_withdrawal,
    cancelled,
    deposit,
    failed,
    fill,
    sent,
    withdrawal_failed,
)

pytestmark = pytest.mark.integration


def chaotic_history(rng: random.Random, users: list[str], size: int) -> list[Envelope]:
    """Every kind of message, out of order, with redeliveries and fills beyond the holds."""
    orders = [f"o{n}-{uuid.uuid4().hex[:4]}" for n in range(size // 4)]
    owner = {order: rng.choice(users) for order in orders}
    side = {order: rng.choice(list(Side)) for order in orders}
    history: list[Envelope] = []
    for _ in range(size):
        order = rng.choice(orders)
        user, kind = owner[order], rng.random()
        amount = f"{rng.randint(1, 300) / 100:.2f}"
        price = f"{rng.randint(80, 130)}.{rng.randint(0, 99):02d}"
        if kind < 0.15:
            asset = rng.choice(["USDT", "BTC"])
            ref = f"{user}-{rng.randint(0, 20)}"
            history.append(deposit(f"{rng.randint(1, 500)}", asset, reference=ref, account=user))
        elif kind < 0.35:
            limit = rng.choice([None, price])
            history.append(approve(order, amount, side=side[order], price=limit, account=user))
        elif kind < 0.65:
            trade, done = f"t{rng.randint(0, 4)}", rng.random() < 0.3
            fee = f"0.{rng.randint(0, 99):02d}"
            history.append(
                fill(
                    order, trade, amount, price, fee=fee, side=side[order], done=done, account=user
                )
            )
        elif kind < 0.75:
            history.append(rng.choice([cancelled, failed])(order, account=user))
        else:
            withdrawal = f"w-{order}"
            history.append(
                rng.choice(
                    [
                        approve_withdrawal(withdrawal, amount, account=user),
                        sent(withdrawal, amount, account=user),
                        withdrawal_failed(withdrawal, account=user),
                    ]
                )
            )
        if history and rng.random() < 0.1:
            history.append(rng.choice(history))  # redelivered under the same or a new key
    return history


async def test_database_and_book_agree_on_every_balance_hold_and_event(
    settings_factory: Callable[..., Any],
) -> None:
    url = await prepare_database(settings_factory(LedgerSettings), NAME, MIGRATIONS)
    pool = await create_pool(url, size=4)
    handle = make_handler(LedgerPolicy(), emitter=Emitter(NAME))
    book = Book(LedgerPolicy())
    rng = random.Random(7)
    users = [f"p{n}-{uuid.uuid4().hex[:6]}" for n in range(3)]
    try:
        for message in chaotic_history(rng, users, 600):
            expected: list[Payload] | LedgerError
            try:
                expected = book.apply(message)
            except LedgerError as exc:
                expected = exc
            async with pool.acquire() as conn:
                last = await conn.fetchval("SELECT coalesce(max(id), 0) FROM outbox")
                if isinstance(expected, LedgerError):
                    with pytest.raises(type(expected)):
                        async with conn.transaction():
                            await handle(conn, message)
                    continue
                async with conn.transaction():
                    await handle(conn, message)
                rows = await conn.fetch("SELECT value FROM outbox WHERE id > $1 ORDER BY id", last)
            assert [decode(bytes(r["value"])).payload for r in rows] == expected, message
        async with pool.acquire() as conn:
            await assert_ends_where_the_book_does(conn, book)
        assert {h.status for h in book.holds.values()} == set(HoldStatus)
    finally:
        await pool.close()


async def test_batches_decide_exactly_as_the_book_does_a_message_at_a_time(
    settings_factory: Callable[..., Any],
) -> None:
    """The service applies whole consumer batches (`services.ledger.batch`): batches of 2 to
    40 messages give the same events, in the same order, and the same balances and holds as
    the book; a batch holding a refused message is redone a message at a time, as the inbox
    does, and only that message is refused."""
    url = await prepare_database(settings_factory(LedgerSettings), NAME, MIGRATIONS)
    pool = await create_pool(url, size=4)
    handle = make_batch_handler(LedgerPolicy(), emitter=Emitter(NAME))
    book = Book(LedgerPolicy())
    rng = random.Random(11)
    users = [f"b{n}-{uuid.uuid4().hex[:6]}" for n in range(4)]
    history = chaotic_history(rng, users, 800)
    held = [m for m in history[:300] if m.type == "OrderApproved"]
    for approved in rng.sample(held, 6):  # someone else's fill: refused, alone
        other = next(u for u in users if u != approved.account_id)
        order = approved.correlation_id
        history.insert(rng.randint(400, 790), cancelled(order, account=other))
    expected: list[Payload] = []
    refused = redone = 0
    try:
        async with pool.acquire() as conn:
            while history:
                size = rng.randint(2, 40)
                batch, history = history[:size], history[size:]
                try:
                    async with conn.transaction():
                        await handle(conn, batch)
                except LedgerError:
                    redone += 1
                    for message in batch:  # the inbox's careful path: one at a time
                        try:
                            async with conn.transaction():
                                await handle(conn, [message])
                        except LedgerError:
                            refused += 1
                for message in batch:
                    try:
                        expected += book.apply(message)
                    except LedgerError:
                        pass
            rows = await conn.fetch("SELECT value FROM outbox ORDER BY id")
            assert [decode(bytes(r["value"])).payload for r in rows] == expected
            await assert_ends_where_the_book_does(conn, book)
        assert len(expected) > 800, "too few events to prove anything"
        assert refused >= 6 and redone >= 6, (refused, redone)
    finally:
        await pool.close()


async def assert_ends_where_the_book_does(conn: Connection, book: Book) -> None:
    """The live ledger's balances and holds are the book's; no invariant of either is broken."""
    live = await live_balances(conn)
    assert {k: v for k, v in live.items() if v != 0} == {
        k: v for k, v in book.balances.items() if v != 0
    }
    assert await holds(conn) == book.holds
    assert await check_invariants(conn) == []
    assert book.violations() == []


async def holds(conn: Connection) -> dict[str, Hold]:
    rows = await conn.fetch("SELECT * FROM holds")
    return {
        r["hold_id"]: Hold(
            r["hold_id"],
            r["account_id"],
            HoldPurpose(r["purpose"]),
            r["asset"],
            r["venue"],
            r["amount"],
            r["remaining"],
            HoldStatus(r["status"]),
        )
        for r in rows
    }
