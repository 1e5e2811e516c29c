"""The peer: the `eventsourcing` library (its PostgreSQL recorder) doing the ledger's job.

Transfers between accounts (a debit and a credit saved atomically: one `save` of both
aggregates, one transaction), then a replay of every stored event into balances through the
library's own reading path (the recorder's notifications, the mapper's domain events). Beside
it, our ledger's replay of a log of the same size read from the same PostgreSQL (`ledger`
suite's `replay_from_database`), and our postings when the `ledger` suite ran: the ratios are
printed under the table. A benchmark-only dependency (`pip install -e .[bench]`, in the lock):
without it the suite says so and measures nothing.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from benchmarks import ledger
from benchmarks.harness import Report, stopwatch
from shared.db import drop_database, ensure_database

DATABASE = "bench_peer"
ACCOUNTS = 1000
SECTION = 10_000


def _environment(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parts.path.lstrip("/"),
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": parts.username or "postgres",
        "POSTGRES_PASSWORD": parts.password or "",
        "AGGREGATE_CACHE_MAXSIZE": str(ACCOUNTS * 2),
    }


def _bank(env: dict[str, str]) -> Any:
    """The application, built here so that importing this module needs no extra."""
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event

    class Account(Aggregate):
        def __init__(self, owner: str) -> None:
            self.owner = owner
            self.balance = Decimal(0)

        @event("Credited")
        def credit(self, amount: Decimal) -> None:
            self.balance += amount

        @event("Debited")
        def debit(self, amount: Decimal) -> None:
            self.balance -= amount

    class Bank(Application[UUID]):
        def open(self, owner: str, amount: Decimal) -> UUID:
            account = Account(owner)
            account.credit(amount)
            self.save(account)
            return account.id

        def transfer(self, source: UUID, destination: UUID, amount: Decimal) -> None:
            """Debit and credit saved together: one transaction, or neither."""
            debited: Account = self.repository.get(source)
            credited: Account = self.repository.get(destination)
            if debited.balance < amount:
                raise ValueError("insufficient funds")
            debited.debit(amount)
            credited.credit(amount)
            self.save(debited, credited)

        def fill(self, accounts: list[UUID], transfers: int, rng: random.Random) -> None:
            """Transfers saved many per transaction: only to make a big log fast."""
            loaded: dict[UUID, Account] = {a: self.repository.get(a) for a in accounts}
            for _ in range(transfers):
                source, destination = rng.sample(accounts, 2)
                loaded[source].debit(Decimal("0.01"))
                loaded[destination].credit(Decimal("0.01"))
            self.save(*loaded.values())

        def replay(self) -> tuple[int, dict[UUID, Decimal]]:
            """Every stored event, oldest first, folded into balances."""
            balances: dict[UUID, Decimal] = defaultdict(Decimal)
            count, start = 0, 1
            signs = {"Credited": 1, "Debited": -1}
            while notifications := self.recorder.select_notifications(start, SECTION):
                for notification in notifications:
                    domain_event: Any = self.mapper.to_domain_event(notification)
                    sign = signs.get(type(domain_event).__name__)
                    if sign is not None:
                        balances[domain_event.originator_id] += sign * domain_event.amount
                    count += 1
                start = notifications[-1].id + 1
            return count, balances

    return Bank(env=env)


def available() -> bool:
    try:
        import eventsourcing.postgres  # noqa: F401
    except ImportError:
        return False
    return True


async def run(server_url: str, bootstrap: str, report: Report, scratch: Path, scale: float) -> None:
    if not available():
        report.notes.append("peer: `eventsourcing` is not installed (pip install -e .[bench])")
        print("  eventsourcing not installed: skipped")
        return
    await drop_database(server_url, DATABASE)
    url = await ensure_database(server_url, DATABASE)
    try:
        await asyncio.to_thread(_measure, url, report, scale)
    finally:
        await drop_database(server_url, DATABASE)
    if "ledger_replay_pg" not in report.figures:
        await ledger.replay_from_database(server_url, report, events=int(1_000_000 * scale))
    _ratios(report)


def _measure(url: str, report: Report, scale: float) -> None:
    bank = _bank(_environment(url))
    rng = random.Random(7)
    accounts = [bank.open(f"u{n}", Decimal(10**9)) for n in range(ACCOUNTS)]
    transfers = int(5_000 * scale)
    with stopwatch() as t:
        for _ in range(transfers):
            source, destination = rng.sample(accounts, 2)
            bank.transfer(source, destination, Decimal("0.01"))
    report.add(
        "peer_postings",
        "peer eventsourcing: transfers saved (debit + credit), as postings",
        2 * transfers,
        t[0],
        "postings/s",
        baseline="pg_batch",
    )
    target = int(int(os.environ.get("BENCH_PEER_EVENTS", "1000000")) * scale)
    while bank.recorder.max_notification_id() < target:
        bank.fill(accounts, 5_000, rng)
    with stopwatch() as t:
        events, balances = bank.replay()
    report.add(
        "peer_replay",
        f"peer eventsourcing: replay from PostgreSQL ({events:,})",
        events,
        t[0],
        "events/s",
        baseline="pg_copy",
    )
    total = sum(balances.values(), Decimal(0))
    if total != Decimal(10**9) * ACCOUNTS:
        report.notes.append(f"peer replay: balances sum to {total}, not {10**9 * ACCOUNTS}")


def _ratios(report: Report) -> None:
    figures = report.figures
    pairs = [
        ("ledger_replay_pg", "peer_replay", "replay, both read from PostgreSQL"),
        ("ledger_replay", "peer_replay", "replay, our fold alone"),
        ("ledger_postings", "peer_postings", "postings (ours through broker + database)"),
    ]
    for ours, theirs, what in pairs:
        if ours in figures and theirs in figures:
            ratio = figures[ours].rate / figures[theirs].rate
            line = f"ours / eventsourcing, {what}: {ratio:.1f}x"
            report.notes.append(line)
            print(f"  {line}")
