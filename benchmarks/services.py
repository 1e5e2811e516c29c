"""Per-service figures: safety's rules engine alone and through broker + database, audit
appends through broker + database, and `audit verify` over a long trail."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchmarks.harness import Report, skip_backlog, stopwatch
from services.audit.app import build as build_audit
from services.audit.chain import COLUMNS, GENESIS_HASH, next_row, trail_document
from services.audit.settings import AuditSettings
from services.audit.verify import verify_chain
from services.safety.app import build as build_safety
from services.safety.domain import (
    AccountState,
    KillSwitches,
    OrderCheck,
    PriceBook,
    ReferencePrice,
    decide_order,
)
from services.safety.domain.markets import MarketListing, MarketRules
from services.safety.settings import SafetySettings
from shared.clock import utc_now
from shared.contracts import Envelope, all_topics, encode, new_message
from shared.contracts.accounts import UserRegistered
from shared.contracts.execution import ListedMarket, MarketsListed, PriceTick
from shared.contracts.orders import OrderSpec, OrderType, PlaceOrder, Side
from shared.contracts.wallet import RecordDeposit
from shared.db import connect, ensure_database
from shared.ids import SYSTEM_ACCOUNT
from shared.kafka import ensure_topics, make_producer
from shared.kafka_access import KafkaAccess
from shared.migrate import migrate
from shared.service import ServiceRuntime
from shared.settings import CommonSettings
from tests.support.simbinance.wire import SPOT_RULES

SAFETY_UNLIMITED: dict[str, Any] = {
    "hourly_trade_limit": 10**9,
    "orders_per_second": 10**6,
    "duplicate_window_seconds": Decimal(0),
    "execution_throttle_fills": 10**9,
    "daily_volume_limit_usd": Decimal(10**15),
    "position_limit_usd": Decimal(10**15),
    "suspicious_rejections_per_hour": 10**9,
}


def _order(i: int) -> PlaceOrder:
    spec = OrderSpec(
        order_id=f"o{i}",
        symbol="BTC/USDT",
        side=Side.BUY,
        type=OrderType.MARKET,
        amount=Decimal("0.001"),
    )
    return PlaceOrder(order=spec)


BTC_USDT_RULES = MarketRules(**SPOT_RULES)
"""Binance's rules for BTC/USDT: every market rule runs, as it would for a real order."""


def safety_engine(report: Report, count: int) -> None:
    limits = SafetySettings.model_construct().limits()
    now = datetime.now(UTC)
    prices = PriceBook({"BTC/USDT": ReferencePrice(Decimal("65000"), now)})
    checks = [
        OrderCheck(
            f"acc-{i % 64}",
            _order(i),
            AccountState(registered=True),
            limits,
            prices,
            KillSwitches(),
            now,
            MarketListing(venue_known=True, rules=BTC_USDT_RULES),
        )
        for i in range(count)
    ]
    with stopwatch() as t:
        for check in checks:
            decide_order(check)
    report.add("safety_engine", "safety: pure rules engine", count, t[0], "decisions/s")


async def _through_service(
    name: str,
    settings: CommonSettings,
    migrations: Path,
    build: Callable[[ServiceRuntime[Any]], Awaitable[None]],
    warm_up: list[Envelope],
    messages: list[Envelope],
) -> float:
    """Run the service in this process; once every `warm_up` message is applied (the consumer
    group has joined, the state the messages need is there), publish `messages` and return how
    many per second were applied."""
    runtime = ServiceRuntime(name, settings, migrations)
    await runtime.start()
    await build(runtime)
    tasks = [asyncio.create_task(c.run(runtime.stop)) for c in runtime.consumers]
    producer = make_producer(settings.kafka_access)
    await producer.start()

    async def applied(batch: list[Envelope]) -> int:
        """How many of `batch` the service has applied (its inbox knows): other traffic on
        the same topics, from earlier suites, does not count."""
        count: int = await runtime.pool.fetchval(
            "SELECT count(*) FROM inbox WHERE event_id = ANY($1::uuid[])",
            [m.event_id for m in batch],
        )
        return count

    async def send(batch: list[Envelope]) -> list[Envelope]:
        """Publish `batch`; return the last message of each partition. A partition is applied
        in order, so once those are applied every one is: waiting asks about a few ids, not
        all of them every 20 ms (which cost the database and this process more than the
        service's own work)."""
        futures = [
            await producer.send(m.topic.value, encode(m), key=m.account_id.encode()) for m in batch
        ]
        last: dict[tuple[str, int], tuple[int, Envelope]] = {}
        for message, sent in zip(batch, await asyncio.gather(*futures), strict=True):
            where = (sent.topic, sent.partition)
            if where not in last or sent.offset > last[where][0]:
                last[where] = (sent.offset, message)
        return [message for _, message in last.values()]

    async def wait_for(batch: list[Envelope], lasts: list[Envelope], pause: float) -> None:
        while await applied(lasts) < len(lasts):
            await asyncio.sleep(pause)
        assert await applied(batch) == len(batch), "a partition's last message before others"

    try:
        await wait_for(warm_up, await send(warm_up), 0.05)
        with stopwatch() as t:
            await wait_for(messages, await send(messages), 0.02)
        return len(messages) / t[0]
    finally:
        await producer.stop()
        runtime.stop.set()
        await asyncio.wait(tasks, timeout=15)
        await runtime.close()


async def safety_service(server: str, bootstrap: str, report: Report, count: int) -> None:
    settings = SafetySettings(
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        DATABASE_URL=server,
        db_prefix="benchsafety",
        **SAFETY_UNLIMITED,
    )
    listed = ListedMarket(symbol="BTC/USDT", **dataclasses.asdict(BTC_USDT_RULES))
    listing = new_message(
        MarketsListed(
            venue="paper", listed_at=datetime.now(UTC), part=1, parts=1, markets=[listed]
        ),
        producer="bench",
        account_id=SYSTEM_ACCOUNT,
        correlation_id="markets:paper",
        now=utc_now(),
    )
    tick = new_message(
        PriceTick(venue="paper", symbol="BTC/USDT", price=Decimal("65000"), sequence=1),
        producer="bench",
        account_id=SYSTEM_ACCOUNT,
        correlation_id="BTC/USDT",
        now=utc_now(),
    )
    registrations = [  # safety decides only for accounts it has seen registered
        new_message(
            UserRegistered(user_id=f"acc-{n}", role="user"),
            producer="bench",
            account_id=f"acc-{n}",
            correlation_id=f"acc-{n}",
            now=utc_now(),
        )
        for n in range(64)
    ]
    orders = [
        new_message(
            _order(i),
            producer="bench",
            account_id=f"acc-{i % 64}",
            correlation_id=f"o{i}",
            now=utc_now(),
        )
        for i in range(count)
    ]
    rate = await _through_service(
        "safety",
        settings,
        Path("services/safety/migrations"),
        build_safety,
        [listing, tick, *registrations],
        orders,
    )
    conn = await connect(settings.service_database_url("safety"))
    try:
        outcomes = await conn.fetch(
            "SELECT convert_from(value, 'UTF8')::jsonb ->> 'type' AS type, "
            "convert_from(value, 'UTF8')::jsonb #>> '{payload,reason}' AS reason, count(*) "
            "FROM outbox GROUP BY 1, 2 ORDER BY 3 DESC"
        )
    finally:
        await conn.close()
    print(
        "  safety decided: "
        + ", ".join(f"{r['type']} {r['reason'] or ''} x{r['count']}" for r in outcomes)
    )
    report.figures_add_rate(
        "safety_db", "safety: decisions through broker + database", rate, "decisions/s", "pg_commit"
    )


async def audit_service(
    server: str, bootstrap: str, report: Report, count: int, scratch: Path
) -> None:
    tag = "benchaudit" + uuid.uuid4().hex[:8]
    settings = AuditSettings(
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        DATABASE_URL=server,
        db_prefix=tag,
        audit_checkpoint_file=scratch / "checkpoints.jsonl",
    )
    # Audit reads every topic: without this it would append what the earlier suites left
    # there (thousands of messages) inside the measured window, counting none of them.
    await ensure_topics(KafkaAccess(bootstrap))
    await skip_backlog(bootstrap, f"{tag}.audit", all_topics())
    messages = [
        new_message(
            RecordDeposit(
                deposit_id=f"d{i}", asset="USDT", amount=Decimal("10"), reference=f"r{i}"
            ),
            producer="bench",
            account_id=f"acc-{i % 64}",
            correlation_id=f"d{i}",
            now=utc_now(),
        )
        for i in range(count)
    ]
    rate = await _through_service(
        "audit",
        settings,
        Path("services/audit/migrations"),
        build_audit,
        messages[:1],
        messages[1:],
    )
    figure = report.figures_add_rate(
        "audit_append", "audit: appends through broker + database", rate, "rows/s", "pg_batch"
    )
    report.notes.append(f"audit appends: {figure.rate:,.0f} rows/s, target ≥ 10,000 (issue 16)")


async def audit_verify(server: str, report: Report, rows: int) -> None:
    url = await ensure_database(server, "bench_audit_verify")
    await migrate(url, Path("services/audit/migrations"))
    conn = await connect(url)
    try:
        head_seq, head_hash = 0, GENESIS_HASH
        insert = (
            f"INSERT INTO audit_trail (seq, prev_hash, hash, message, {', '.join(COLUMNS)}) "
            f"VALUES ($1, $2, $3, $4::text::jsonb, {', '.join(f'${i}' for i in range(5, 5 + len(COLUMNS)))})"
        )
        batch: list[tuple[Any, ...]] = []
        for i in range(rows):
            message = new_message(
                RecordDeposit(
                    deposit_id=f"d{i}", asset="USDT", amount=Decimal("10"), reference=f"r{i}"
                ),
                producer="bench",
                account_id=f"acc-{i % 64}",
                correlation_id=f"d{i}",
                now=utc_now(),
            )
            row = next_row(head_seq, head_hash, trail_document(message))
            head_seq, head_hash = row.seq, row.hash
            batch.append(
                (
                    row.seq,
                    row.prev_hash,
                    row.hash,
                    json.dumps(row.message),
                    *(row.columns[c] for c in COLUMNS),
                )
            )
            if len(batch) == 5_000 or i == rows - 1:
                await conn.executemany(insert, batch)
                batch.clear()
        with stopwatch() as t:
            result = await verify_chain(conn, None)
        assert result.ok, result
        figure = report.add(
            "audit_verify",
            f"audit verify over {rows:,} rows",
            rows,
            t[0],
            "rows/s",
            baseline="pg_copy",
        )
        report.notes.append(f"audit verify: {figure.rate:,.0f} rows/s, target ≥ 100,000 (issue 16)")
    finally:
        await conn.close()


async def run(server: str, bootstrap: str, report: Report, scratch: Path, scale: float) -> None:
    safety_engine(report, int(50_000 * scale))
    await safety_service(server, bootstrap, report, int(5_000 * scale))
    await audit_service(server, bootstrap, report, int(10_000 * scale), scratch)
    await audit_verify(server, report, int(1_000_000 * scale))
