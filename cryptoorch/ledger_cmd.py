"""`cryptoorch replay ledger` and `cryptoorch ledger check`: is the book of record sound?

`replay ledger` rebuilds the ledger from the event log (the broker's topics from the
first offset, or the producers' outbox logs when the broker was restarted empty), in
the order the live ledger applied it, into a scratch schema, and prints every
difference from the live balances. `ledger check` runs the invariants on the live
database.

Exit codes scripts can trust: 0 = checked and fine, 1 = a difference or a broken
invariant, 2 = could not check (no running system, broker or database unreachable,
bad option).
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import asyncpg
import typer
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from pydantic import ValidationError
from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress, TaskID
from rich.table import Table

from cryptoorch import runtime_info
from cryptoorch.exits import CANNOT_CHECK, CannotCheck, fail, run_against_system
from services.ledger.app import NAME, policy_from
from services.ledger.invariants import check_invariants
from services.ledger.replay import (
    ReplayMismatch,
    application_sequence,
    dead_lettered,
    differences,
    in_live_order,
    live_balances,
    write_scratch,
)
from services.ledger.replay_wire import Logged, read_log
from services.ledger.settings import LedgerSettings
from services.ledger.tally import Tally
from shared.contracts.access import readable_by
from shared.db import connect
from shared.kafka import topic_partitions
from shared.kafka_access import KafkaAccess

T = TypeVar("T")
OUTBOX_PRODUCERS = ("gateway", "safety", "execution", "ledger")
"""Whose outboxes hold what the ledger consumes (the ledger's own: re-driven dead letters)."""
STALL_SECONDS = 30.0
BATCH_RECORDS = 50_000
"""Records read (from the broker or an outbox cursor) and decoded at a time."""
FETCH_BYTES = 64 * 1024 * 1024
DIFFERENCE_COLUMNS = ("owner", "asset", "bucket", "live", "rebuilt", "delta")
_SCRATCH_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

app = typer.Typer(no_args_is_help=True, add_completion=False, help="The ledger's books.")
replay_app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Rebuild state from the event log."
)
JsonFlag = Annotated[bool, typer.Option("--json", help="machine-readable output")]


class Source(StrEnum):
    BROKER = "broker"
    OUTBOX = "outbox"


@dataclass
class ReplayReport:
    source: str
    scratch_schema: str
    read: int = 0
    undecodable: int = 0
    ignored: int = 0
    folded: int = 0
    fold_seconds: float = 0.0
    """Folding only (what `events_per_second` divides by)."""
    decode_seconds: float = 0.0
    """Decoding and putting in the live order."""
    by_domain: int = 0
    """Messages the domain's `decide` answered rather than a fast step."""
    refused: int = 0
    dead_lettered_skipped: int = 0
    not_applied_live: int = 0
    missing_from_log: int = 0
    differences: list[ReplayMismatch] = field(default_factory=list)
    rebuilt_violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences and not self.rebuilt_violations

    @property
    def events_per_second(self) -> float:
        return self.folded / self.fold_seconds if self.fold_seconds > 0 else 0.0

    @property
    def decoded_and_folded_per_second(self) -> float:
        seconds = self.fold_seconds + self.decode_seconds
        return self.folded / seconds if seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        counts = {k: v for k, v in self.__dict__.items() if k != "differences"}
        eps = round(self.events_per_second, 1)
        both = round(self.decoded_and_folded_per_second, 1)
        found = [_difference(d) for d in self.differences]
        return {
            "ok": self.ok,
            **counts,
            "events_per_second": eps,
            "decoded_and_folded_per_second": both,
            "differences": found,
        }


def _difference(d: ReplayMismatch) -> dict[str, str]:
    account = d.account
    values = (account.owner, account.asset, account.bucket.value, d.live, d.rebuilt)
    return dict(zip(DIFFERENCE_COLUMNS, map(str, (*values, d.live - d.rebuilt)), strict=True))


async def read_topics(access: KafkaAccess, topics: list[str], progress: Progress) -> list[bytes]:
    """Every record now on `topics`, from the first offset, without joining a consumer group.

    Done when every partition is past the end offset the broker reported and a poll brings
    nothing more. Offsets reset to the earliest: with the default (latest), assign() can race
    seek_to_beginning() and skip the first records."""
    consumer = AIOKafkaConsumer(
        **access.client_options(),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_bytes=FETCH_BYTES,
        max_partition_fetch_bytes=FETCH_BYTES // 4,
    )
    await consumer.start()
    try:
        partitions = await topic_partitions(access, topics)
        if not partitions:
            return []
        consumer.assign(partitions)
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        total = sum(ends[tp] - starts[tp] for tp in partitions)
        task = progress.add_task("reading the broker", total=total)
        values: list[bytes] = []
        last_delivery = time.monotonic()
        while True:
            batch = await consumer.getmany(timeout_ms=500, max_records=BATCH_RECORDS)
            for records in batch.values():
                values += [r.value or b"" for r in records]
            progress.update(task, completed=len(values), total=max(total, len(values)))
            behind = [str(tp) for tp in partitions if await consumer.position(tp) < ends[tp]]
            if batch:
                last_delivery = time.monotonic()
            elif not behind:
                return values
            elif time.monotonic() - last_delivery > STALL_SECONDS:
                raise CannotCheck(f"the broker stopped delivering {behind}")
    finally:
        await consumer.stop()


async def read_outboxes(topics: list[str], progress: Progress) -> list[bytes]:
    """Every row on `topics` in the producers' outbox logs, published or not, read through a
    server-side cursor in chunks of `BATCH_RECORDS`."""
    task = progress.add_task("reading the outboxes", total=None)
    values: list[bytes] = []
    query = "SELECT value FROM outbox WHERE topic = ANY($1::text[]) ORDER BY id"
    for service in OUTBOX_PRODUCERS:
        try:
            conn = await connect(runtime_info.service_database_url(service))
        except asyncpg.InvalidCatalogNameError:
            raise CannotCheck(f"no {service} database: its outbox cannot be read") from None
        try:
            async with conn.transaction(readonly=True):
                cursor = await conn.cursor(query, topics)
                while rows := await cursor.fetch(BATCH_RECORDS):
                    values += [r[0] for r in rows]
                    progress.advance(task, len(rows))
        finally:
            await conn.close()
    return values


def _ticking(messages: list[Logged], progress: Progress, task: TaskID) -> Iterator[Logged]:
    for n, message in enumerate(messages, start=1):
        yield message
        if n % 5000 == 0:
            progress.update(task, completed=n)
    progress.update(task, completed=len(messages))


async def replay_ledger(source: Source, scratch: str, progress: Progress) -> ReplayReport:
    policy = policy_from(LedgerSettings())
    report = ReplayReport(source.value, scratch)
    topics = readable_by(NAME)
    if source is Source.BROKER:
        raw = await read_topics(runtime_info.kafka_access(), topics, progress)
    else:
        raw = await read_outboxes(topics, progress)
    report.read = len(raw)
    started = time.perf_counter()
    reading = read_log(raw)
    report.decode_seconds = time.perf_counter() - started
    report.undecodable, report.ignored = reading.undecodable, reading.ignored
    conn = await connect(runtime_info.service_database_url("ledger"))
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            order = await application_sequence(conn)
            live = await live_balances(conn)
            dead = await dead_lettered(conn)
        started = time.perf_counter()
        log = reading.relevant
        report.dead_lettered_skipped = len(dead & {m.event_id for m in log})
        ordered = in_live_order([m for m in log if m.event_id not in dead], order)
        in_log = {m.event_id for m in ordered}
        report.not_applied_live = len(in_log - order.keys())
        report.missing_from_log = len(order.keys() - in_log)
        report.decode_seconds += time.perf_counter() - started
        task = progress.add_task("folding", total=len(ordered))
        started = time.perf_counter()
        book = Tally(policy).fold(_ticking(ordered, progress, task))
        report.fold_seconds = time.perf_counter() - started
        report.folded, report.refused = book.applied + len(book.refused), len(book.refused)
        report.by_domain = book.by_domain
        progress.add_task(f"comparing, writing schema {scratch}", total=None)
        report.differences = differences(live, book.balance_map())
        report.rebuilt_violations = book.violations()
        await write_scratch(conn, scratch, book)
    finally:
        await conn.close()
    return report


async def check_ledger() -> list[str]:
    conn = await connect(runtime_info.service_database_url("ledger"))
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            return await check_invariants(conn)
    finally:
        await conn.close()


def _run(work: Coroutine[Any, Any, T]) -> T:
    """Run `work`; anything that stops the check from being made exits 2."""
    try:
        return run_against_system(work, CANNOT_CHECK)
    except CannotCheck as exc:
        raise fail(str(exc), CANNOT_CHECK) from None
    except ValidationError as exc:
        raise fail(f"bad ledger settings in the environment: {exc}", CANNOT_CHECK) from None
    except KafkaError as exc:
        raise fail(f"cannot read the broker: {exc}", CANNOT_CHECK) from None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise fail(f"cannot read the database: {exc}", CANNOT_CHECK) from None


@replay_app.command("ledger")
def replay_ledger_command(
    from_beginning: Annotated[
        bool,
        typer.Option(
            "--from-beginning",
            help="read each log from its first message (always so: there is no snapshot)",
        ),
    ] = False,
    source: Annotated[
        Source, typer.Option(help="broker: the topics; outbox: the producers' outbox logs")
    ] = Source.BROKER,
    scratch_schema: Annotated[
        str, typer.Option(help="schema (in the ledger database) to rebuild into; replaced")
    ] = "ledger_replay",
    as_json: JsonFlag = False,
) -> None:
    """Rebuild the journal and balances from the event log and print every difference from
    the live balances. Exit 1 if there is one (or the rebuild breaks an invariant), 0 if not.

    Use --source outbox when the broker was restarted empty.

    Example: cryptoorch replay ledger --from-beginning --source outbox --json
    """
    if not _SCRATCH_NAME.match(scratch_schema) or scratch_schema == "public":
        raise fail(f"not a usable scratch schema name: {scratch_schema!r}", CANNOT_CHECK)
    show_progress = not as_json and sys.stderr.isatty()
    columns = (*Progress.get_default_columns(), MofNCompleteColumn())
    console = Console(stderr=True)
    with Progress(*columns, console=console, disable=not show_progress, transient=True) as bar:
        report = _run(replay_ledger(source, scratch_schema, bar))
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        _print_replay(report)
    raise typer.Exit(0 if report.ok else 1)


def _print_replay(report: ReplayReport) -> None:
    typer.echo(
        f"replayed {report.folded:,} events from the {report.source} in "
        f"{report.fold_seconds:.2f} s ({report.events_per_second:,.0f} events/s folded; "
        f"{report.decoded_and_folded_per_second:,.0f} events/s decoded, ordered and folded) "
        f"into schema {report.scratch_schema}"
    )
    for count, what in (
        (report.undecodable, "undecodable record(s) skipped (dead-lettered live)"),
        (report.dead_lettered_skipped, "message(s) the live ledger dead-lettered, skipped"),
        (report.refused, "message(s) the rebuild refused"),
        (report.not_applied_live, "message(s) in the log not (yet) applied by the live ledger"),
        (report.missing_from_log, "message(s) applied live but not in this log"),
    ):
        if count:
            typer.echo(f"  {count:,} {what}")
    if report.missing_from_log and report.source == Source.BROKER:
        typer.echo("  (broker restarted empty? try --source outbox)")
    for problem in report.rebuilt_violations:
        typer.echo(f"  rebuild breaks an invariant: {problem}")
    if not report.differences:
        typer.echo("no differences: the live balances equal the rebuild")
        return
    table = Table(title=f"{len(report.differences)} difference(s) from the live balances")
    for column in DIFFERENCE_COLUMNS:
        table.add_column(column)
    for d in report.differences:
        table.add_row(*_difference(d).values())
    Console(width=max(120, Console().width)).print(table)


@app.command("check")
def check_command(as_json: JsonFlag = False) -> None:
    """Check the live ledger's invariants: every asset sums to zero, every entry balances, no
    user bucket is negative, held equals the open holds, closed holds are fully used.

    Exit 1 with every broken invariant, 0 when the books are sound.

    Example: cryptoorch ledger check --json
    """
    problems = _run(check_ledger())
    if as_json:
        typer.echo(json.dumps({"ok": not problems, "problems": problems}, indent=2))
    elif problems:
        typer.echo(f"ledger BROKEN: {len(problems)} invariant(s) do not hold")
        for problem in problems:
            typer.echo(f"  {problem}")
    else:
        typer.echo("ledger OK: every invariant holds")
    raise typer.Exit(1 if problems else 0)
