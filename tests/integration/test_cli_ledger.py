"""`cryptoorch replay ledger` and `cryptoorch ledger check` as real processes against a live ledger:
a clean ledger exits 0; a tampered balance or journal exits 1 and names what is wrong; what
cannot be checked exits 2."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

import pytest
from rich.progress import Progress

from cryptoorch.replay_sources import read_topics
from services.ledger.app import MIGRATIONS, NAME, build
from services.ledger.domain import LedgerPolicy
from services.ledger.handlers import make_handler
from services.ledger.settings import LedgerSettings
from shared.contracts import Envelope, UndecodableMessage, decode
from shared.contracts.access import readable_by
from shared.contracts.orders import Side
from shared.db import Connection, connect
from shared.emitter import Emitter
from shared.kafka_access import KafkaAccess
from shared.outbox import enqueue
from shared.service import ServiceRuntime, prepare_database
from tests.support.cli import REPO_ROOT, run_cli
from tests.support.running import running_service
from tests.support.topics import producing, publish_batched
from tests.support.waiting import eventually
from tests.unit.ledger.messages import approve, cancelled, deposit, fill

pytestmark = pytest.mark.integration


def deltas(report: dict[str, Any]) -> dict[tuple[str, str, str], Decimal]:
    """(owner, asset, bucket) → live minus rebuilt, for each difference a replay found."""
    return {
        (d["owner"], d["asset"], d["bucket"]): Decimal(d["delta"]) for d in report["differences"]
    }


@dataclass(frozen=True)
class Users:
    buyer: str
    seller: str


def order_flow(users: Users) -> list[list[Envelope]]:
    """Funding, then orders, then what the venue did: phases that must apply in this order."""
    buyer, seller = users.buyer, users.seller
    return [
        [
            deposit("1000", reference=f"{buyer}-d", account=buyer),
            deposit("500", reference=f"{seller}-d", account=seller),
            deposit("1", "BTC", reference=f"{seller}-b", account=seller),
        ],
        [
            approve(f"{buyer}-o", "0.5", price="100", account=buyer),
            approve(f"{seller}-o", "0.4", side=Side.SELL, account=seller),
        ],
        [
            fill(f"{buyer}-o", "t1", "0.2", "99", fee="0.02", account=buyer),
            cancelled(f"{buyer}-o", account=buyer),
            fill(f"{seller}-o", "t2", "0.4", "101", fee="0.04", side=Side.SELL, done=True,
                 account=seller),
        ],
    ]  # fmt: skip


@pytest.fixture
def users() -> Users:
    tag = uuid.uuid4().hex[:8]
    return Users(buyer=f"buyer-{tag}", seller=f"seller-{tag}")


async def in_inbox(conn: Connection, ids: set[uuid.UUID]) -> bool:
    found = await conn.fetchval("SELECT count(*) FROM inbox WHERE event_id = ANY($1::uuid[])", ids)
    return bool(found == len(ids))


async def whole_log(bootstrap: str) -> set[uuid.UUID]:
    """Every decodable message now on the ledger's topics (earlier tests' too), read as the
    CLI reads them."""
    with Progress(disable=True) as progress:
        records = await read_topics(KafkaAccess(bootstrap), readable_by(NAME), progress)
    ids: set[uuid.UUID] = set()
    for record in records:
        try:
            ids.add(decode(record).event_id)
        except UndecodableMessage:
            continue
    return ids


@pytest.fixture
async def ledger(
    settings_factory: Callable[..., Any], users: Users
) -> AsyncIterator[ServiceRuntime[Any]]:
    """The live ledger after the order flow, caught up with everything on its topics."""
    settings = settings_factory(LedgerSettings, consumer_batch_size=500)
    async with running_service(NAME, settings, MIGRATIONS, build) as runtime:
        async with producing(settings.kafka_access) as producer, runtime.pool.acquire() as conn:
            for phase in order_flow(users):
                await publish_batched(producer, phase)
                applied = partial(in_inbox, conn, {m.event_id for m in phase})
                await eventually(applied, what="a phase applied")
            everything = await whole_log(settings.kafka_bootstrap_servers)
            await eventually(
                lambda: in_inbox(conn, everything), timeout=240, what="the whole log applied"
            )
        yield runtime


async def test_replay_after_ledger_activity_finds_no_difference(
    ledger: ServiceRuntime[Any], cli_env: dict[str, str], users: Users
) -> None:
    result = await run_cli(cli_env, "replay", "ledger", "--from-beginning", "--json")

    assert result.code == 0, result.stdout + result.stderr
    report = result.json()
    assert (report["differences"], report["rebuilt_violations"]) == ([], []), result.stdout
    assert report["folded"] >= 8
    assert report["events_per_second"] > 0
    rebuilt = await ledger.pool.fetch(
        "SELECT asset, bucket, amount FROM ledger_replay.balances WHERE owner = $1 "
        "ORDER BY asset, bucket",
        users.seller,
    )
    assert [(r["asset"], r["bucket"], r["amount"]) for r in rebuilt] == [
        ("BTC", "available", Decimal("0.6")),
        ("BTC", "held", Decimal(0)),
        ("USDT", "available", Decimal("540.36")),  # 500 + 0.4 * 101 - 0.04
    ]

    readable = await run_cli(cli_env, "replay", "ledger")
    assert readable.code == 0, readable.stderr
    assert "no differences: the live balances equal the rebuild" in readable.stdout
    assert "events/s" in readable.stdout


async def test_replay_names_the_account_whose_live_balance_was_tampered_with(
    ledger: ServiceRuntime[Any], cli_env: dict[str, str], users: Users
) -> None:
    await ledger.pool.execute(
        "UPDATE balances SET amount = amount + 7 "
        "WHERE owner = $1 AND asset = 'USDT' AND bucket = 'available'",
        users.buyer,
    )

    result = await run_cli(cli_env, "replay", "ledger", "--json")

    assert result.code == 1, result.stdout + result.stderr
    assert deltas(result.json()) == {(users.buyer, "USDT", "available"): 7}, result.stdout
    readable = await run_cli(cli_env, "replay", "ledger")
    assert readable.code == 1
    assert users.buyer in readable.stdout
    assert "USDT" in readable.stdout


async def test_ledger_check_passes_a_clean_ledger_and_names_a_tampered_balance(
    ledger: ServiceRuntime[Any], cli_env: dict[str, str], users: Users
) -> None:
    clean = await run_cli(cli_env, "ledger", "check")
    assert clean.code == 0, clean.stdout + clean.stderr
    assert "ledger OK" in clean.stdout

    await ledger.pool.execute(
        "UPDATE balances SET amount = amount + 7 "
        "WHERE owner = $1 AND asset = 'USDT' AND bucket = 'available'",
        users.buyer,
    )
    result = await run_cli(cli_env, "ledger", "check", "--json")

    assert result.code == 1
    problems = result.json()["problems"]
    assert "asset USDT sums to 7.000000000000000000 over all accounts, not zero" in problems
    assert any(p.startswith(f"balance of {users.buyer}/USDT/available is") for p in problems)


async def test_ledger_check_names_a_journal_entry_an_attacker_unbalanced(
    settings_factory: Callable[..., Any], cli_env: dict[str, str], users: Users
) -> None:
    url = await prepare_database(settings_factory(LedgerSettings), NAME, MIGRATIONS)
    conn = await connect(url)
    try:
        async with conn.transaction():
            await make_handler(LedgerPolicy(), emitter=Emitter(NAME))(conn, order_flow(users)[0][0])
        entry_id = await conn.fetchval("SELECT max(entry_id) FROM journal")
        async with conn.transaction():  # a superuser, as an attacker would: guards off
            await conn.execute("ALTER TABLE postings DISABLE TRIGGER postings_insert_only")
            await conn.execute(
                "DELETE FROM postings WHERE entry_id = $1 AND owner = $2", entry_id, users.buyer
            )
            await conn.execute("ALTER TABLE postings ENABLE TRIGGER postings_insert_only")
    finally:
        await conn.close()

    result = await run_cli(cli_env, "ledger", "check")

    assert result.code == 1
    assert f"journal entry {entry_id} does not balance in USDT" in result.stdout


async def producers_with_outboxes(
    settings_factory: Callable[..., Any], flow: list[list[Envelope]]
) -> None:
    """The gateway, safety and execution databases, each with its messages in its outbox."""
    settings = settings_factory()
    for service in ("gateway", "safety", "execution"):
        url = await prepare_database(
            settings, service, REPO_ROOT / "services" / service / "migrations"
        )
        conn = await connect(url)
        try:
            mine = [m for phase in flow for m in phase if _producer_of(m) == service]
            async with conn.transaction():
                await enqueue(conn, *mine)
        finally:
            await conn.close()


def _producer_of(message: Envelope) -> str:
    by_topic = {"wallet.commands.v1": "gateway", "safety.decisions.v1": "safety"}
    return by_topic.get(message.topic.value, "execution")


async def applied_live(url: str, messages: Sequence[Envelope]) -> None:
    """What the live ledger's inbox does with each message, in this order."""
    handle = make_handler(LedgerPolicy(), emitter=Emitter(NAME))
    conn = await connect(url)
    try:
        for message in messages:
            async with conn.transaction():
                await handle(conn, message)
    finally:
        await conn.close()


@pytest.fixture
async def ledger_without_broker(
    settings_factory: Callable[..., Any], users: Users
) -> AsyncIterator[str]:
    """A ledger that applied the order flow; the broker's log of it is gone (no broker at all
    for the CLI); the producers' outboxes still hold it. Yields the ledger's database URL."""
    flow = order_flow(users)
    await producers_with_outboxes(settings_factory, flow)
    url = await prepare_database(settings_factory(LedgerSettings), NAME, MIGRATIONS)
    await applied_live(url, [m for phase in flow for m in phase])
    yield url


def without_broker(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}


async def test_replay_from_the_outbox_logs_when_the_broker_lost_its_log(
    ledger_without_broker: str, cli_env: dict[str, str]
) -> None:
    result = await run_cli(
        without_broker(cli_env), "replay", "ledger", "--source", "outbox", "--json"
    )

    assert result.code == 0, result.stdout + result.stderr
    report = result.json()
    assert report["source"] == "outbox"
    assert (report["folded"], report["missing_from_log"], report["differences"]) == (8, 0, [])


async def test_a_message_applied_live_but_missing_from_the_log_is_a_difference(
    ledger_without_broker: str, cli_env: dict[str, str], users: Users
) -> None:
    await applied_live(
        ledger_without_broker, [deposit("3", reference=f"{users.buyer}-lost", account=users.buyer)]
    )

    result = await run_cli(
        without_broker(cli_env), "replay", "ledger", "--source", "outbox", "--json"
    )

    assert result.code == 1
    report = result.json()
    assert report["missing_from_log"] == 1
    assert deltas(report) == {
        (users.buyer, "USDT", "available"): 3,
        ("world", "USDT", "world"): -3,  # where the deposit came from
    }


async def test_replay_that_cannot_read_its_log_exits_2(
    settings_factory: Callable[..., Any], cli_env: dict[str, str]
) -> None:
    await prepare_database(settings_factory(LedgerSettings), NAME, MIGRATIONS)

    no_outboxes = await run_cli(cli_env, "replay", "ledger", "--source", "outbox")
    no_broker = await run_cli(
        {**cli_env, "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9"}, "replay", "ledger"
    )
    nothing_running = await run_cli(
        {"CRYPTOORCH_DATA_DIR": cli_env["CRYPTOORCH_DATA_DIR"]}, "ledger", "check"
    )

    assert (no_outboxes.code, no_broker.code, nothing_running.code) == (2, 2, 2)
    assert "no gateway database" in no_outboxes.stderr
    assert "cannot read the broker" in no_broker.stderr
    assert "DATABASE_URL is not set" in nothing_running.stderr
