"""`cryptoorch check`: the invariant checker for the operator (and scripts).

Exit codes: 0 = every invariant holds, 1 = violations (each printed), 2 = could not check
(no running system, a database unreachable).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cryptoorch import runtime_info
from cryptoorch.exits import CANNOT_CHECK, CannotCheck, fail

if TYPE_CHECKING:
    from cryptoorch.check import CheckReport


def check_command(
    drain_seconds: Annotated[
        float, typer.Option(min=0, help="wait up to this long for the system to drain")
    ] = 60.0,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    checkpoints: Annotated[
        Path | None,
        typer.Option(help="audit checkpoint file to verify against [default: the service's]"),
    ] = None,
    expect_dead_letter: Annotated[
        list[str] | None,
        typer.Option(
            help="a dead letter whose original bytes contain this text is expected "
            "(injected on purpose); repeatable"
        ),
    ] = None,
) -> None:
    """Drain, then check every invariant of the promise across the five services.

    Every accepted order, withdrawal and deposit ended; one venue order per order; the
    ledger's invariants; balances equal deposits - withdrawals +/- trades as the venue saw
    them; every message of every order audited exactly once and the chain verifies; no
    stuck outbox row; every dead letter listed (unexpected ones fail).

    Example: cryptoorch check --drain-seconds 30 --json
    """
    from cryptoorch.audit_cmd import default_checkpoint_file
    from cryptoorch.check import check_system

    markers = [m.encode() for m in expect_dead_letter or []]
    try:
        urls = {name: runtime_info.service_database_url(name) for name in runtime_info.SERVICES}
        file = checkpoints or default_checkpoint_file()
        report = asyncio.run(
            check_system(
                urls,
                drain_seconds=drain_seconds,
                checkpoint_file=file if file.exists() else None,
                expected_dead_letter=lambda d: any(m in d.original_value() for m in markers),
            )
        )
    except (runtime_info.NotRunning, CannotCheck) as exc:
        raise fail(f"could not check: {exc}", CANNOT_CHECK) from None
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2, default=str))
    else:
        print_report(report)
    raise typer.Exit(0 if report.ok else 1)


def print_report(report: CheckReport) -> None:
    drained = "drained" if report.drained else "NOT drained"
    counted = ", ".join(f"{n} {name}" for name, n in sorted(report.counts.items()))
    typer.echo(f"{drained} after {report.waited_seconds:.1f}s; checked {counted}")
    for letter in report.dead_letters:
        verdict = "expected" if letter.expected else "re-driven" if letter.redriven else "FAIL"
        typer.echo(
            f"dead letter [{verdict}] {letter.service} {letter.dead_letter_id} "
            f"{letter.original_topic}: {letter.error[:100]}"
        )
    if report.ok:
        typer.echo("check passed: every invariant holds")
        return
    typer.echo(f"check FAILED: {len(report.violations)} violation(s)")
    for violation in report.violations:
        typer.echo(f"  - {violation}")
