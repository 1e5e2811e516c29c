"""`cryptoorch kill-switch engage|release|list`: the same switch as the admin API.

The switch and its `KillSwitchChanged` outbox row are written to the gateway's
database in one transaction by the gateway's own function; the running gateway's
relay publishes it and safety enforces it. Engaged while the gateway is down, it
is published when the gateway starts.

The target is checked exactly as the admin API checks it (the same function records both): an
account is a user id in any letter case, stored as the user's own id; a symbol is `BASE/QUOTE`.

Exit codes scripts can trust: 0 = done, 2 = not done (a scope/target that do not fit, an
account naming no user, no running system, database unreachable).
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import asyncpg
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from cryptoorch import runtime_info
from cryptoorch.exits import NOT_DONE, fail
from shared.clock import utc_now
from shared.contracts.accounts import KillSwitchMode, KillSwitchScope
from shared.db import connect
from shared.settings import CommonSettings

if TYPE_CHECKING:  # the gateway's modules are imported when a command runs: a quick --help
    from services.gateway.api.bodies import KillSwitchBody
    from services.gateway.store.trail import KillSwitch

T = TypeVar("T")

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Halt trading globally, for one account, or for one symbol (safety enforces it).",
)
JsonFlag = Annotated[bool, typer.Option("--json", help="machine-readable output")]


ScopeOption = Annotated[KillSwitchScope, typer.Option(help="what the switch halts")]
TargetOption = Annotated[
    str | None,
    typer.Option(help="the user id (scope account) or symbol like BTC/USDT (scope symbol)"),
]
ModeOption = Annotated[
    KillSwitchMode,
    typer.Option(
        help="halt: no order, open ones cancelled; reduce_only: sells only, buys cancelled"
    ),
]
ReasonOption = Annotated[str, typer.Option(help="why: kept with the switch and in the audit trail")]


def operator() -> str:
    """Who changed the switch: `cli:` and the OS user."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = f"uid{os.getuid()}"
    return f"cli:{user}"


def as_dict(switch: KillSwitch) -> dict[str, Any]:
    return {
        **switch.__dict__,
        "scope": switch.scope.value,
        "mode": switch.mode.value,
        "changed_at": switch.changed_at.isoformat(),
    }


async def record_switch(request: KillSwitchBody, changed_by: str) -> KillSwitch:
    """Write the switch and its outbox row in the gateway's database, in one transaction."""
    from services.gateway import NAME
    from services.gateway.controls import change_kill_switch
    from shared.emitter import Emitter
    from shared.service import prepare_database

    settings = CommonSettings(
        DATABASE_URL=runtime_info.server_database_url(), db_prefix=runtime_info.db_prefix()
    )
    url = await prepare_database(settings, NAME, runtime_info.migrations_dir(NAME))
    conn = await connect(url)
    try:
        async with conn.transaction():
            return await change_kill_switch(
                conn,
                Emitter(NAME),
                scope=request.scope,
                target=request.target,
                engaged=request.engaged,
                reason=request.reason,
                changed_by=changed_by,
                now=utc_now(),
                mode=request.mode,
            )
    finally:
        await conn.close()


async def current_switches() -> list[KillSwitch]:
    from services.gateway.store.trail import kill_switches

    conn = await connect(runtime_info.service_database_url("gateway"))
    try:
        return await kill_switches(conn)
    finally:
        await conn.close()


def _run(work: Coroutine[Any, Any, T]) -> T:
    from services.gateway.errors import KillSwitchTargetUnknown

    try:
        return asyncio.run(work)
    except (runtime_info.NotRunning, KillSwitchTargetUnknown) as exc:
        raise fail(f"kill switch not changed: {exc}", NOT_DONE) from None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise fail(f"cannot reach the gateway database: {exc}", NOT_DONE) from None


def _request(
    scope: KillSwitchScope, target: str | None, reason: str, engaged: bool, mode: KillSwitchMode
) -> KillSwitchBody:
    """The admin API's own rules for a switch; a combination that does not fit exits 2."""
    from services.gateway.api.bodies import KillSwitchBody

    try:
        return KillSwitchBody(scope=scope, target=target, engaged=engaged, reason=reason, mode=mode)
    except ValidationError as exc:
        problems = [
            (f"{'.'.join(map(str, e['loc']))}: " if e["loc"] else "")
            + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        ]
        raise fail("kill switch not changed: " + "; ".join(problems), NOT_DONE) from None


def _change(
    scope: KillSwitchScope,
    target: str | None,
    reason: str,
    *,
    engaged: bool,
    mode: KillSwitchMode,
    as_json: bool,
) -> None:
    switch = _run(record_switch(_request(scope, target, reason, engaged, mode), operator()))
    if as_json:
        typer.echo(json.dumps(as_dict(switch), indent=2))
        return
    state = f"ENGAGED ({switch.mode})" if switch.engaged else "released"
    where = switch.scope if switch.target is None else f"{switch.scope} {switch.target}"
    typer.echo(f"kill switch {where} {state} by {switch.changed_by}: {switch.reason}")


@app.command("engage")
def engage(
    scope: ScopeOption,
    reason: ReasonOption,
    target: TargetOption = None,
    mode: ModeOption = KillSwitchMode.HALT,
    as_json: JsonFlag = False,
) -> None:
    """Halt trading: new orders in the scope are rejected with KILL_SWITCH and open ones are
    cancelled (with --mode reduce_only: sells still pass, buys are refused and cancelled).

    Example: cryptoorch kill-switch engage --scope symbol --target BTC/USDT --reason "venue halt"
    """
    _change(scope, target, reason, engaged=True, mode=mode, as_json=as_json)


@app.command("release")
def release(
    scope: ScopeOption,
    reason: ReasonOption,
    target: TargetOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Let trading resume in the scope.

    Example: cryptoorch kill-switch release --scope account --target 42 --reason "verified"
    """
    _change(scope, target, reason, engaged=False, mode=KillSwitchMode.HALT, as_json=as_json)


@app.command("list")
def list_command(as_json: JsonFlag = False) -> None:
    """Every switch the gateway knows, engaged or released, with who changed it and why.

    Example: cryptoorch kill-switch list --json
    """
    switches = _run(current_switches())
    if as_json:
        typer.echo(json.dumps({"items": [as_dict(s) for s in switches]}, indent=2))
        return
    if not switches:
        typer.echo("no kill switches")
        return
    table = Table(title="kill switches")
    for column in ("scope", "target", "state", "mode", "changed by", "changed at", "reason"):
        table.add_column(column)
    for s in switches:
        state = "ENGAGED" if s.engaged else "released"
        changed_at = s.changed_at.isoformat()
        row = (s.scope, s.target or "*", state, s.mode, s.changed_by, changed_at, s.reason)
        table.add_row(*row)
    Console(width=max(120, Console().width)).print(table)
