"""Replay: the ledger rebuilt from the event log equals the live one, account by account."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from functools import partial
from typing import Any

import pytest

from services.ledger.app import MIGRATIONS, NAME, build
from services.ledger.domain import LedgerPolicy, needs
from services.ledger.invariants import check_invariants
from services.ledger.replay import (
    application_sequence,
    differences,
    in_live_order,
    live_balances,
    write_scratch,
)
from services.ledger.replay_wire import read_log
from services.ledger.settings import LedgerSettings
from services.ledger.tally import Tally
from shared.contracts import Envelope, UndecodableMessage, decode
from shared.contracts.access import readable_by
from shared.contracts.orders import Side
from shared.service import ServiceRuntime
from tests.support.running import running_service
from tests.support.topics import producing, publish_batched, read_topic
from tests.support.waiting import eventually
from tests.unit.ledger.messages import approve, cancelled, deposit, failed, fill

pytestmark = pytest.mark.integration
ORDERS = int(os.environ.get("LEDGER_REPLAY_ORDERS", "2000"))  # a bigger log: LEDGER_REPLAY_ORDERS


@pytest.fixture
async def ledger(settings_factory: Callable[..., Any]) -> AsyncIterator[ServiceRuntime[Any]]:
    settings = settings_factory(LedgerSettings, consumer_batch_size=500)
    async with running_service(NAME, settings, MIGRATIONS, build) as runtime:
        yield runtime


async def consumed(ledger: ServiceRuntime[Any], messages: list[Envelope]) -> str:
    """How many of `messages` the live ledger applied (or dead-lettered), of how many."""
    ids = [m.event_id for m in messages]
    found = await ledger.pool.fetchval(
        "SELECT count(*) FROM inbox WHERE event_id = ANY($1::uuid[])", ids
    )
    return f"{found} of {len(set(ids))}"


def all_of(progress: str) -> bool:
    done, _, total = progress.partition(" of ")
    return done == total


def workload(rng: random.Random, users: list[str]) -> tuple[list[Envelope], list[Envelope]]:
    """(approvals, what the venue then did): orders that partly fit, fills, cancels, failures."""
    approvals: list[Envelope] = []
    outcomes: list[Envelope] = []
    for n in range(ORDERS):
        user, order_id = rng.choice(users), f"r{n}-{uuid.uuid4().hex[:6]}"
        side = rng.choice(list(Side))
        amount = f"{rng.randint(1, 400) / 1000:.3f}"
        limit = rng.choice([None, f"{rng.randint(90, 110)}.5"])
        approvals.append(approve(order_id, amount, side=side, price=limit, account=user))
        ending = rng.random()
        if ending < 0.6:
            half = str(Decimal(amount) / 2)  # 3 decimals halved: exact
            price = f"{rng.randint(95, 105)}"
            outcomes.append(fill(order_id, "a", half, price, fee="0.01", side=side, account=user))
            if ending < 0.4:
                outcomes.append(
                    fill(order_id, "b", half, price, fee="0.01", side=side, done=True, account=user)
                )
            else:
                outcomes.append(cancelled(order_id, account=user))
        else:
            outcomes.append(failed(order_id, account=user))
    return approvals, outcomes


async def test_replay_from_the_log_reproduces_the_live_balances_exactly(
    ledger: ServiceRuntime[Any],
) -> None:
    rng = random.Random(20260101)
    users = [f"replay-{n}-{uuid.uuid4().hex[:6]}" for n in range(5)]
    funding = [
        deposit(amount, asset, reference=f"{user}-{asset}", account=user)
        for user in users
        for asset, amount in (("USDT", "2000"), ("BTC", "3"))
    ]
    approvals, outcomes = workload(rng, users)
    async with producing(ledger.settings.kafka_access) as producer:
        for name, phase in (("funding", funding), ("approvals", approvals), ("outcomes", outcomes)):
            await publish_batched(producer, phase)
            await eventually(
                partial(consumed, ledger, phase), until=all_of, timeout=120, what=f"{name} applied"
            )

    log: list[Envelope] = []
    values: list[bytes] = []
    for topic in readable_by(NAME):
        for record in await read_topic(ledger.settings.kafka_bootstrap_servers, topic):
            values.append(record.value or b"")
            try:
                log.append(decode(record.value or b""))
            except UndecodableMessage:
                continue  # the live ledger dead-lettered it: nothing to rebuild
    relevant = [m for m in log if needs(m.payload) is not None]
    await eventually(
        lambda: consumed(ledger, relevant), until=all_of, timeout=120, what="the whole log applied"
    )

    async with ledger.pool.acquire() as conn:
        live = await live_balances(conn)
        # What `cryptoorch replay ledger` does. The same fold through `Book` (the domain's
        # objects) is held equal to it by tests/unit/ledger/test_replay_fast.py, and `Book` to
        # the database ledger by test_ledger_parity.py.
        reading = read_log(values)
        ordered = in_live_order(reading.relevant, await application_sequence(conn))
        rebuilt = Tally(LedgerPolicy()).fold(ordered)
        assert differences(live, rebuilt.balance_map()) == []
        assert rebuilt.violations() == []
        schema = "replay_" + uuid.uuid4().hex[:8]
        await write_scratch(conn, schema, rebuilt)
        async with conn.transaction():
            await conn.execute(f"SET LOCAL search_path TO {schema}")
            assert await check_invariants(conn) == []
            assert await conn.fetchval("SELECT count(*) FROM journal") == len(rebuilt.journal)
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
