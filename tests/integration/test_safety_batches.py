"""Safety decides a consumer batch at once, as runs of requests of distinct accounts: each
request is decided exactly as it would be alone, a request sees the earlier ones of its account
in the same batch, and a message that cannot be applied is dead-lettered alone.

Each test publishes what safety must know first (listing, price, registrations) and lets safety
store it, stops it, publishes a backlog of requests, then starts it again: the backlog is read
in full batches.
"""

from __future__ import annotations

import functools
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

import services.safety.app
from services.safety.app import build
from services.safety.settings import SafetySettings
from shared.contracts import Envelope, decode
from shared.contracts.decisions import OrderApproved, OrderRejected
from shared.contracts.reasons import RejectReason
from shared.infra.resolve import Infrastructure
from shared.kafka import ensure_topics
from tests.support.running import running_service
from tests.support.topics import publish_to
from tests.support.waiting import eventually
from tests.unit.safety.messages import listing, place, registered, tick, withdraw

pytestmark = pytest.mark.integration
MIGRATIONS = Path(services.safety.app.__file__).parent / "migrations"
ACCOUNTS = 6
ROUNDS = 3


async def applied(pool: asyncpg.Pool, messages: Sequence[Envelope]) -> int:
    count: int = await pool.fetchval(
        "SELECT count(*) FROM inbox WHERE event_id = ANY($1::uuid[])",
        [m.event_id for m in messages],
    )
    return count


async def run_safety(
    settings: SafetySettings, now: datetime, messages: Sequence[Envelope]
) -> dict[str, Any]:
    """Run safety (its clock stopped at `now`) until it has applied (or dead-lettered) every
    one of `messages`; return what it stored and emitted for their accounts."""
    wired = functools.partial(build, clock=lambda: now)
    accounts = sorted({m.account_id for m in messages})
    async with running_service("safety", settings, MIGRATIONS, wired) as runtime:
        await eventually(
            lambda: applied(runtime.pool, messages),
            until=lambda n: n == len(messages),
            what="every message applied",
        )
        pool = runtime.pool
        outbox = await pool.fetch(
            "SELECT key, event_id, topic, value FROM outbox WHERE key = ANY($1) ORDER BY id",
            accounts,
        )
        return {
            # an account's messages in order; the accounts' relative order is no contract
            "outbox": sorted(
                (r["key"], n, r["event_id"], r["topic"], bytes(r["value"]))
                for n, r in enumerate(outbox)
            ),
            "orders": await pool.fetch(
                "SELECT *, xmin::text AS tx FROM order_decisions WHERE account_id = ANY($1) "
                "ORDER BY order_id",
                accounts,
            ),
            "withdrawals": await pool.fetch(
                "SELECT * FROM withdrawal_decisions WHERE account_id = ANY($1) "
                "ORDER BY withdrawal_id",
                accounts,
            ),
            "totals": await pool.fetch(
                "SELECT * FROM daily_totals WHERE account_id = ANY($1) ORDER BY 1, 2, 3",
                accounts,
            ),
            "dead": await pool.fetch(
                "SELECT event_id FROM inbox WHERE outcome = 'dead_lettered' "
                "AND event_id = ANY($1::uuid[])",
                [m.event_id for m in messages],
            ),
        }


def per_account(outbox: list[tuple[str, int, Any, str, bytes]]) -> dict[str, list[Any]]:
    """Each account's messages, in the order they were written (ids, topics and bytes)."""
    found: dict[str, list[Any]] = {}
    for key, _, event_id, topic, value in outbox:
        found.setdefault(key, []).append((event_id, topic, value))
    return found


def same_messages(outbox: list[tuple[str, int, Any, str, bytes]]) -> dict[str, list[Any]]:
    """`per_account`, each account's in any order: its orders and withdrawals travel on two
    topics, so which of them safety reads first is no contract (an account's orders, on one
    partition, are read in order: what an order's decision says shows it counted those)."""
    return {key: sorted(found) for key, found in per_account(outbox).items()}


def order_id(decision: OrderApproved | OrderRejected) -> str:
    return decision.order.order_id if isinstance(decision, OrderApproved) else decision.order_id


def without_tx(rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    return [{k: v for k, v in dict(r).items() if k != "tx"} for r in rows]


@pytest.fixture
def symbol() -> str:
    return "B" + uuid.uuid4().hex[:8].upper() + "/USDT"


async def prepared(
    infra: Infrastructure,
    settings_factory: Callable[..., SafetySettings],
    symbol: str,
    accounts: list[str],
    now: datetime,
    prefixes: Sequence[str],
    **overrides: Any,
) -> None:
    """Each safety (by its prefix) has stored the symbol's listing and price and the accounts."""
    setup = [
        listing("paper", symbol, at=now),
        tick(symbol, "100", 1, at=now),
        *(registered(a) for a in accounts),
    ]
    await ensure_topics(infra.kafka_access)
    await publish_to(infra.kafka_access, *setup)
    for prefix in prefixes:
        settings = settings_factory(SafetySettings, db_prefix=prefix, **overrides)
        await run_safety(settings, now, setup)


def run_sizes(caplog: pytest.LogCaptureFixture) -> list[int]:
    """The size of each run safety decided (its debug log), once no batch fell back to a
    message at a time (which would decide the same, but not as runs)."""
    assert not [r for r in caplog.records if "a message at a time" in r.getMessage()]
    runs = [re.search(r"a run of (\d+)", r.getMessage()) for r in caplog.records]
    return [int(m.group(1)) for m in runs if m is not None]


async def test_a_batch_of_many_accounts_is_decided_as_one_by_one_and_counts_each_accounts_earlier(
    infra: Infrastructure,
    settings_factory: Callable[..., SafetySettings],
    symbol: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = datetime.now(UTC)
    accounts = [f"b-{uuid.uuid4().hex[:8]}-{n}" for n in range(ACCOUNTS)]
    limits = {"hourly_trade_limit": 2, "orders_per_second": 1000, "duplicate_window_seconds": 0}
    batched, alone = "t" + uuid.uuid4().hex[:12], "t" + uuid.uuid4().hex[:12]
    await prepared(infra, settings_factory, symbol, accounts, now, [batched, alone], **limits)
    requests = [
        place(account, f"{account}-o{round_}", symbol=symbol, amount=str(round_ + 1))
        for round_ in range(ROUNDS)
        for account in accounts
    ]
    requests += [
        place(accounts[0], f"{accounts[0]}-big", symbol=symbol, amount="1000000"),  # too big
        place(accounts[1], f"{accounts[1]}-nowhere", symbol="NOPE/USDT"),  # not listed
        withdraw(accounts[2], f"{accounts[2]}-w1", "10"),
        withdraw(accounts[3], f"{accounts[3]}-w1", "10"),
        place(accounts[3], f"{accounts[3]}-o0", symbol=symbol),  # the same order again
    ]
    await publish_to(infra.kafka_access, *requests, batched=True)

    caplog.set_level(logging.INFO, logger="shared.inbox_apply")
    caplog.set_level(logging.DEBUG, logger="services.safety.batch")  # the handler's level too
    caplog.clear()
    at_once = await run_safety(
        settings_factory(SafetySettings, db_prefix=batched, consumer_batch_size=500, **limits),
        now,
        requests,
    )
    sizes = run_sizes(caplog)
    one_by_one = await run_safety(
        settings_factory(SafetySettings, db_prefix=alone, consumer_batch_size=1, **limits),
        now,
        requests,
    )

    assert same_messages(at_once["outbox"]) == same_messages(one_by_one["outbox"])
    assert without_tx(at_once["orders"]) == without_tx(one_by_one["orders"])
    assert at_once["withdrawals"] == one_by_one["withdrawals"]
    assert at_once["totals"] == one_by_one["totals"]
    transactions = {r["tx"] for r in at_once["orders"]}
    assert len(transactions) < len(at_once["orders"]) / 3, "decided a batch at a time"
    assert sum(n for n in sizes if n > 1) >= len(requests) / 2, f"runs of {sizes}"
    for account in accounts:  # the third order of each: two earlier ones in the same batch
        emitted = [decode(value).payload for _, _, value in per_account(at_once["outbox"])[account]]
        orders = [p for p in emitted if isinstance(p, OrderApproved | OrderRejected)]
        ids = {f"{account}-o{r}" for r in range(ROUNDS)}
        rounds = [p for p in orders if order_id(p) in ids]
        assert [type(p) for p in rounds] == [OrderApproved, OrderApproved, OrderRejected]
        assert isinstance(rounds[2], OrderRejected)
        assert rounds[2].reason is RejectReason.HOURLY_TRADE_LIMIT


async def test_a_message_that_cannot_be_applied_is_dead_lettered_alone_and_the_batch_decided(
    infra: Infrastructure, settings_factory: Callable[..., SafetySettings], symbol: str
) -> None:
    now = datetime.now(UTC)
    accounts = [f"p-{uuid.uuid4().hex[:8]}-{n}" for n in range(ACCOUNTS)]
    prefix = "t" + uuid.uuid4().hex[:12]
    overrides = {"duplicate_window_seconds": 0, "consumer_max_attempts": 1}
    await prepared(infra, settings_factory, symbol, accounts, now, [prefix], **overrides)
    good = [
        place(account, f"{account}-o{r}", symbol=symbol) for r in range(2) for account in accounts
    ]
    poison = place(accounts[2], f"{accounts[2]}-\x00", symbol=symbol)  # PostgreSQL holds no NUL
    backlog = [*good[: ACCOUNTS + 2], poison, *good[ACCOUNTS + 2 :]]
    await publish_to(infra.kafka_access, *backlog, batched=True)

    found = await run_safety(
        settings_factory(SafetySettings, db_prefix=prefix, consumer_batch_size=500, **overrides),
        now,
        backlog,
    )

    assert [r["event_id"] for r in found["dead"]] == [poison.event_id]
    decided = sorted(r["order_id"] for r in found["orders"])
    assert decided == sorted(m.payload.order.order_id for m in good)  # type: ignore[attr-defined]
    assert all(r["approved"] for r in found["orders"])
