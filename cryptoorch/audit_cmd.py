"""`cryptoorch audit verify`, `cryptoorch audit export` and `cryptoorch trace ORDER_ID`: the audit
trail for the operator and the auditor.

Exit codes scripts can trust: 0 = checked and fine, 1 = broken trail / unknown id,
2 = could not check (no running system, database unreachable, bad option).
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import asyncpg
import typer
from rich.console import Console
from rich.table import Table

from cryptoorch import runtime_info
from cryptoorch.exits import CANNOT_CHECK, FOUND_WRONG, fail, run_against_system
from services.audit.trace import trace
from services.audit.verify import VerifyResult, trail_length, verify_chain
from shared import audit_export
from shared.db import Connection, connect
from shared.settings import database_url_for

T = TypeVar("T")
CHECKPOINT_FILE_ENV = "CRYPTOORCH_AUDIT_CHECKPOINT_FILE"

app = typer.Typer(no_args_is_help=True, add_completion=False, help="The hash-chained audit trail.")
JsonFlag = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def audit_database_url() -> str:
    return database_url_for(runtime_info.server_database_url(), f"{runtime_info.db_prefix()}_audit")


def default_checkpoint_file() -> Path:
    """Where the service writes checkpoints: env, then `cryptoorch up`'s record, then .data/."""
    recorded = os.environ.get(CHECKPOINT_FILE_ENV) or runtime_info.read_runtime().get(
        "audit_checkpoint_file"
    )
    return Path(recorded) if recorded else runtime_info.data_dir() / "audit-checkpoints.jsonl"


def _on_audit_db(work: Callable[[Connection], Awaitable[T]]) -> T:
    async def run() -> T:
        conn = await connect(audit_database_url())
        try:
            return await work(conn)
        finally:
            await conn.close()

    try:
        return run_against_system(run(), CANNOT_CHECK)
    except (OSError, asyncpg.PostgresError) as exc:
        raise fail(f"cannot read the audit database: {exc}", CANNOT_CHECK) from None


@app.command("verify")
def verify_command(
    as_json: JsonFlag = False,
    checkpoints: Annotated[
        Path | None,
        typer.Option(help="checkpoint file to hold the trail against [default: the service's]"),
    ] = None,
) -> None:
    """Recompute the hash chain and check it against the checkpoints written outside the database.

    Exit 1 and the first bad row (what is wrong with it) if the trail is broken, 0 if intact.

    Example: cryptoorch audit verify --json
    """
    checkpoint_file = checkpoints or default_checkpoint_file()
    if not checkpoint_file.exists():
        if checkpoints is not None:
            raise fail(f"checkpoint file {checkpoints} not found", CANNOT_CHECK)
        typer.echo(
            f"no checkpoint file at {checkpoint_file}: checking the chain only "
            "(a consistent rewrite of the whole table would not show)",
            err=True,
        )
    file = checkpoint_file if checkpoint_file.exists() else None
    show_progress = not as_json and sys.stderr.isatty()

    async def run(conn: Connection) -> VerifyResult:
        if not show_progress:
            return await verify_chain(conn, file)
        with typer.progressbar(
            length=await trail_length(conn), label="verifying", file=sys.stderr
        ) as bar:
            done = 0

            def advance(rows: int) -> None:
                nonlocal done
                bar.update(rows - done)
                done = rows

            return await verify_chain(conn, file, on_progress=advance)

    result = _on_audit_db(run)
    if as_json:
        typer.echo(json.dumps({**result.as_dict(), "checkpoint_file": _text(file)}, indent=2))
    else:
        _print_verdict(result)
    raise typer.Exit(0 if result.ok else 1)


def _print_verdict(result: VerifyResult) -> None:
    if result.ok:
        typer.echo(
            f"audit trail OK: {result.rows_checked} rows, "
            f"{result.checkpoints_checked} checkpoints checked, "
            f"head seq {result.last_seq} hash {result.last_hash}"
        )
        return
    where = f"seq {result.first_bad_seq}" if result.first_bad_seq is not None else "checkpoints"
    typer.echo(f"audit trail BROKEN at {where}: {result.problem}")
    typer.echo(f"  {result.detail}")
    if result.bad_row:
        typer.echo("  row: " + " ".join(f"{k}={v}" for k, v in result.bad_row.items()))
    typer.echo(f"  {result.rows_checked} rows before it verified")


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


@app.command("export")
def export_command(
    from_seq: Annotated[int, typer.Option(min=1, help="first row")] = 1,
    to_seq: Annotated[
        int | None,
        typer.Option(min=1, help="last row (default: the last one when the export starts)"),
    ] = None,
    export_format: Annotated[
        ExportFormat, typer.Option("--format", help="JSON lines or CSV")
    ] = ExportFormat.JSONL,
    output: Annotated[
        Path | None, typer.Option(help="file to write (default: standard output)")
    ] = None,
) -> None:
    """The audit rows for an auditor: `{seq, prev_hash, hash, actor, message}` per row, where
    `message` is exactly what was hashed, so the chain can be re-verified from the file alone
    (docs/canonical-json.md). A FILE appears only once it is complete.

    Example: cryptoorch audit export --from-seq 1 --to-seq 5000 --output trail.jsonl
    """
    try:
        audit_export.check_range(from_seq, to_seq)
    except audit_export.InvalidSeqRange as exc:
        raise fail(str(exc), CANNOT_CHECK) from None
    partial = output.with_name(output.name + ".partial") if output is not None else None
    try:
        file = partial.open("w", encoding="utf-8", newline="") if partial else sys.stdout
    except OSError as exc:
        raise fail(f"cannot write the export: {exc}", CANNOT_CHECK) from None

    async def run(conn: Connection) -> tuple[int, audit_export.SeqRange]:
        rows = audit_export.seq_range(from_seq, to_seq, await audit_export.head_seq(conn))
        return await _write_export(conn, rows, export_format, file), rows

    try:
        written, rows = _on_audit_db(run)
    except BaseException:
        if partial is not None:
            file.close()
            partial.unlink(missing_ok=True)
        raise
    file.flush()
    if output is not None and partial is not None:
        file.close()
        partial.replace(output)
    where = f" to {output}" if output is not None else ""
    span = f"seq {rows.first}..{rows.last}" if written else f"no rows from seq {rows.first}"
    typer.echo(f"exported {written} rows ({span}){where}", err=True)


async def _write_export(
    conn: Connection, rows: audit_export.SeqRange, export_format: ExportFormat, file: Any
) -> int:
    written = 0
    writer = csv.writer(file) if export_format is ExportFormat.CSV else None
    if writer is not None:
        writer.writerow(audit_export.CSV_HEADER)
    async for page in audit_export.pages(conn, rows):
        if writer is not None:
            writer.writerows(audit_export.csv_fields(row) for row in page)
        else:
            file.write("".join(audit_export.jsonl_line(row) for row in page))
        written += len(page)
    return written


def trace_command(
    order_id: Annotated[str, typer.Argument(help="order, withdrawal or deposit id")],
    as_json: JsonFlag = False,
) -> None:
    """Every message of one order across all topics, in causal order: service, decision, reason.

    Exit 1 with a message when the audit trail holds nothing for that id.

    Example: cryptoorch trace 3f1c9a2e-5d47-4a39-9c1e-2b8f0d6a7e41
    """
    messages = _on_audit_db(lambda conn: trace(conn, order_id))
    if not messages:
        unknown = f"no audit messages for {order_id!r} (an order, withdrawal or deposit id?)"
        raise fail(unknown, FOUND_WRONG)
    if as_json:
        typer.echo(json.dumps(messages, indent=2))
        return
    table = Table(title=f"trace {order_id}")
    for column in ("seq", "occurred at", "service", "message", "decision", "reason / detail"):
        table.add_column(column)
    for m in messages:
        table.add_row(
            str(m["seq"]),
            str(m["occurred_at"]),
            str(m["producer"]),
            "  " * m["depth"] + str(m["type"]),
            m["decision"] or "",
            " — ".join(str(p) for p in (m["reason"], m["detail"]) if p),
        )
    Console(width=max(120, Console().width)).print(table)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
