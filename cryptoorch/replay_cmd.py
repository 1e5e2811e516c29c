"""`cryptoorch replay ledger`: rebuild the ledger from the event log and compare.

It reads the log (`replay_sources`: the broker's topics from the first offset, or the
producers' outbox logs when the broker was restarted empty), puts it in the order the live
ledger applied it, folds it (`services.ledger.tally.Tally`) into a scratch schema, and
prints every difference from the live balances. Exit 0 when there is none, 1 when there is
one or the rebuild breaks an invariant, 2 when it could not check (`exits.run_check`).
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress, TaskID
from rich.table import Table

from cryptoorch import runtime_info
from cryptoorch.exits import CANNOT_CHECK, run_check
from cryptoorch.replay_sources import Source, read_outboxes, read_topics
from services.ledger.app import NAME, policy_from
from services.ledger.replay import (
    ReplayMismatch,
    application_sequence,
    dead_lettered,
    differences,
    in_live_order,
    live_balances,
    write_scratch,
)
from services.ledger.replay_wire import Logged, no_cycle_collection, read_log
from services.ledger.settings import LedgerSettings
from services.ledger.tally import Tally
from shared.contracts.access import readable_by
from shared.db import connect

DIFFERENCE_COLUMNS = ("owner", "asset", "bucket", "live", "rebuilt", "delta")
_SCRATCH_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

replay_app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Rebuild state from the event log."
)
JsonFlag = Annotated[bool, typer.Option("--json", help="machine-readable output")]


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
        typer.echo(f"not a usable scratch schema name: {scratch_schema!r}", err=True)
        raise typer.Exit(CANNOT_CHECK)
    show_progress = not as_json and sys.stderr.isatty()
    columns = (*Progress.get_default_columns(), MofNCompleteColumn())
    console = Console(stderr=True)
    with Progress(*columns, console=console, disable=not show_progress, transient=True) as bar:
        with no_cycle_collection():
            report = run_check(replay_ledger(source, scratch_schema, bar))
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
