"""`cryptoorch ledger check`: are the live ledger's books sound?

Runs the invariants (`services.ledger.invariants`) on the live database in one
repeatable-read snapshot. Exit 0 when every invariant holds, 1 with every broken one,
2 when it could not check (`exits.run_check`). `cryptoorch replay ledger` is `replay_cmd`.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from cryptoorch import runtime_info
from cryptoorch.exits import run_check
from services.ledger.invariants import check_invariants
from shared.db import connect

app = typer.Typer(no_args_is_help=True, add_completion=False, help="The ledger's books.")
JsonFlag = Annotated[bool, typer.Option("--json", help="machine-readable output")]


async def check_ledger() -> list[str]:
    conn = await connect(runtime_info.service_database_url("ledger"))
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            return await check_invariants(conn)
    finally:
        await conn.close()


@app.command("check")
def check_command(as_json: JsonFlag = False) -> None:
    """Check the live ledger's invariants: every asset sums to zero, every entry balances, no
    user bucket is negative, held equals the open holds, closed holds are fully used.

    Exit 1 with every broken invariant, 0 when the books are sound.

    Example: cryptoorch ledger check --json
    """
    problems = run_check(check_ledger())
    if as_json:
        typer.echo(json.dumps({"ok": not problems, "problems": problems}, indent=2))
    elif problems:
        typer.echo(f"ledger BROKEN: {len(problems)} invariant(s) do not hold")
        for problem in problems:
            typer.echo(f"  {problem}")
    else:
        typer.echo("ledger OK: every invariant holds")
    raise typer.Exit(1 if problems else 0)
