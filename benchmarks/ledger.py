"""The ledger: postings/s through broker + database (batched), and replay events/s (fold alone,
from bytes, from PostgreSQL; and the old path through `Book`, on a slice).

Beside the raw batched-insert and COPY rates of the same run (`foundation` measures them).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal
from functools import partial
from pathlib import Path

import asyncpg

from benchmarks.harness import Report, skip_backlog, stopwatch
from services.ledger.app import MIGRATIONS, NAME, build
from services.ledger.replay import fold
from services.ledger.replay_wire import Reading, no_cycle_collection, read_log
from services.ledger.settings import LedgerSettings
from services.ledger.tally import Tally
from shared.clock import utc_now
from shared.contracts import Envelope, Payload, decode, encode, new_message
from shared.contracts.access import readable_by
from shared.contracts.decisions import OrderApproved
from shared.contracts.execution import FillStatus, OrderFilled
from shared.contracts.orders import OrderSpec, OrderType, Side
from shared.contracts.wallet import RecordDeposit
from shared.copy_stream import copy_column
from shared.db import drop_database, ensure_database
from shared.kafka import ensure_topics, make_producer
from shared.kafka_access import KafkaAccess
from shared.service import ServiceRuntime

_SPEC = OrderSpec(
    order_id="o", symbol="BTC/USDT", side=Side.BUY, type=OrderType.MARKET, amount=Decimal("0.01")
)
_APPROVED = OrderApproved(order=_SPEC, reference_price=Decimal(100), price_band=Decimal("0.1"))
_FILLED = OrderFilled(
    order_id="o",
    trade_id="t",
    symbol="BTC/USDT",
    side="buy",
    amount=Decimal("0.01"),
    price=Decimal(100),
    fee=Decimal("0.001"),
    fee_asset="USDT",
    status=FillStatus.FILLED,
    cumulative_amount=Decimal("0.01"),
)
_TEMPLATE = new_message(
    _APPROVED, producer="bench", account_id="u", correlation_id="o", now=utc_now()
)


def _deposit(user: str) -> Envelope:
    body = RecordDeposit(deposit_id=user, asset="USDT", amount=Decimal(10**6), reference=user)
    return new_message(body, producer="bench", account_id=user, correlation_id=user, now=utc_now())


def _envelope(payload: Payload, user: str, order_id: str) -> Envelope:
    update = {"event_id": uuid.uuid4(), "type": payload.TYPE, "payload": payload}
    return _TEMPLATE.model_copy(update={**update, "account_id": user, "correlation_id": order_id})


def _order(n: int, user: str) -> tuple[Envelope, Envelope]:
    """An approved market buy of 0.01 BTC and its one full fill (copies of templates: fast)."""
    order_id = f"{user}-o{n}"
    spec = _SPEC.model_copy(update={"order_id": order_id})
    approved = _APPROVED.model_copy(update={"order": spec})
    filled = _FILLED.model_copy(update={"order_id": order_id, "trade_id": f"t{n}"})
    return _envelope(approved, user, order_id), _envelope(filled, user, order_id)


def order_flow(users: int, orders: int, tag: str) -> tuple[list[Envelope], ...]:
    """(deposits, approvals, fills): every user funded, then `orders` orders spread over them."""
    names = [f"{tag}-u{i}" for i in range(users)]
    pairs = [_order(n, names[n % users]) for n in range(orders)]
    return [_deposit(u) for u in names], [a for a, _ in pairs], [f for _, f in pairs]


async def _applied(pool: asyncpg.Pool, tag: str, count: int) -> None:
    """Wait until the ledger applied `count` messages of accounts named `tag-...`."""
    query = "SELECT count(*) FROM applied_messages WHERE account_id LIKE $1"
    while await pool.fetchval(query, f"{tag}-%") < count:
        await asyncio.sleep(0.05)


async def postings_through_broker(
    server_url: str, bootstrap: str, report: Report, users: int, orders: int
) -> None:
    tag = "bench" + uuid.uuid4().hex[:8]
    settings = LedgerSettings(
        KAFKA_BOOTSTRAP_SERVERS=bootstrap, DATABASE_URL=server_url, db_prefix=tag
    )
    await ensure_topics(KafkaAccess(bootstrap))
    await skip_backlog(bootstrap, f"{tag}.{NAME}", readable_by(NAME))
    phases = order_flow(users, orders, tag)
    runtime = ServiceRuntime(NAME, settings, MIGRATIONS)
    await runtime.start()
    await build(runtime)
    jobs = [runtime.relay.run, *(c.run for c in runtime.consumers)]
    tasks = [asyncio.create_task(job(runtime.stop)) for job in jobs]
    producer = make_producer(KafkaAccess(bootstrap))
    await producer.start()

    async def publish(messages: list[Envelope]) -> None:
        sent = [
            await producer.send(m.topic.value, encode(m), key=m.account_id.encode())
            for m in messages
        ]
        await asyncio.gather(*sent)

    try:
        await publish([_deposit(f"{tag}-warm-up")])
        await _applied(runtime.pool, tag, 1)  # the group is joined: not part of the figure
        before = await runtime.pool.fetchval("SELECT count(*) FROM postings")
        done = 1
        with stopwatch() as t:
            for phase in phases:  # each topic is consumed on its own: money first, then spend
                await publish(phase)
                done += len(phase)
                await _applied(runtime.pool, tag, done)
        postings = await runtime.pool.fetchval("SELECT count(*) FROM postings") - before
        still_open = await runtime.pool.fetchval(
            "SELECT count(*) FROM holds WHERE status<>'closed'"
        )
    finally:
        await producer.stop()
        runtime.stop.set()
        await asyncio.wait(tasks, timeout=15)
        for task in tasks:
            task.cancel()
        await runtime.close()
    report.add(
        "ledger_postings",
        "ledger: postings through broker + database (batched)",
        postings,
        t[0],
        "postings/s",
        baseline="pg_batch",
    )
    report.add(
        "ledger_messages",
        "ledger: messages applied (credit, hold, settle + release)",
        done - 1,
        t[0],
        "msgs/s",
        baseline="inbox",
    )
    if still_open:
        report.notes.append(f"ledger bench: {still_open} holds not closed (expected 0)")


def replay_log(events: int) -> list[bytes]:
    """A log of `events` messages as the broker holds them: deposits, then orders and fills."""
    users = 1000
    deposits, approvals, fills = order_flow(users, (events - users) // 2 + 1, "replay")
    log = deposits + [m for pair in zip(approvals, fills, strict=True) for m in pair]
    return [encode(m) for m in log]


def replay_fold(report: Report, events: int) -> None:
    """The fold alone, then decoding + folding from bytes; the old path on a slice, for scale."""
    raw = replay_log(events)
    with no_cycle_collection():
        cpu = time.process_time()
        with stopwatch() as decoding:
            reading = read_log(raw)
        cpu_decoding, cpu = time.process_time() - cpu, time.process_time()
        with stopwatch() as t:
            tally = Tally().fold(reading.relevant)
        cpu_folding = time.process_time() - cpu
        refused, by_domain = len(tally.refused), tally.by_domain
        del reading, tally
    report.add(
        "ledger_replay",
        f"ledger replay: events folded in memory ({len(raw):,})",
        len(raw),
        t[0],
        "events/s",
        baseline="pg_copy",
    )
    report.add(
        "ledger_replay_bytes",
        "ledger replay: decoded (fast decoder) + folded",
        len(raw),
        t[0] + decoding[0],
        "events/s",
        baseline="pg_copy",
    )
    # The old path on a slice (it is ~10x slower): the deposits untimed, then orders and fills.
    sample = [decode(r) for r in raw[: 1000 + max(2000, len(raw) // 50)]]
    book = fold(sample[:1000])
    with stopwatch() as t:
        book.apply_all(sample[1000:])
    report.add(
        "ledger_replay_book",
        f"ledger replay, before: pydantic envelopes through Book ({len(sample) - 1000:,})",
        len(sample) - 1000,
        t[0],
        "events/s",
        baseline="pg_copy",
    )
    report.notes.append(
        f"ledger replay on this process's CPU (what the machine's load does not change): "
        f"folded {len(raw) / cpu_folding:,.0f} events/s, "
        f"decoded + folded {len(raw) / (cpu_folding + cpu_decoding):,.0f} events/s"
    )
    if refused or book.refused or by_domain:
        report.notes.append(
            f"ledger replay bench: {refused} events refused, "
            f"{by_domain} decided by the domain rather than a fast step"
        )


async def replay_from_database(server_url: str, report: Report, events: int) -> None:
    """Our replay as `replay ledger --source outbox` reads: a table of the encoded log in
    PostgreSQL, streamed out with binary COPY and decoded chunk by chunk as it arrives, then
    folded (the cycle collector off for the run, as the command has it)."""
    url = await ensure_database(server_url, "bench_replay")
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP TABLE IF EXISTS replay_log")
        await conn.execute("CREATE TABLE replay_log (id BIGSERIAL PRIMARY KEY, value BYTEA)")
        raw = replay_log(events)
        await conn.copy_records_to_table(
            "replay_log", records=[(r,) for r in raw], columns=["value"]
        )
        del raw
        cpu = time.process_time()
        with no_cycle_collection(), stopwatch() as t:
            reading = Reading([])
            query = "SELECT value FROM replay_log ORDER BY id"
            await copy_column(conn, query, partial(read_log, reading=reading))
            tally = Tally().fold(reading.relevant)
            folded = tally.applied + len(tally.refused)
            del reading, tally  # freed before the collector is back: it has nothing to scan
        cpu = time.process_time() - cpu
        report.notes.append(
            f"ledger replay from PostgreSQL on this process's CPU (the server's not counted): "
            f"{folded / cpu:,.0f} events/s"
        )
        report.add(
            "ledger_replay_pg",
            "ledger replay: read from PostgreSQL (binary COPY) + decoded + folded",
            folded,
            t[0],
            "events/s",
            baseline="pg_copy",
        )
    finally:
        await conn.close()
        await drop_database(server_url, "bench_replay")


async def run(server_url: str, bootstrap: str, report: Report, scratch: Path, scale: float) -> None:
    await postings_through_broker(
        server_url, bootstrap, report, users=200, orders=int(20_000 * scale)
    )
    replay_fold(report, events=int(1_000_000 * scale))
    await replay_from_database(server_url, report, events=int(1_000_000 * scale))
