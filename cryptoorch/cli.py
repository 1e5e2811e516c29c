"""`cryptoorch`: the operator's commands. Each reaches the broker and databases of a running
`cryptoorch up` in this folder, or those named by KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

import typer

from cryptoorch import runtime_info
from cryptoorch.runtime_info import SERVICES

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


@app.command()
def up(
    host: str = typer.Option("127.0.0.1", help="gateway bind address"),
    port: int = typer.Option(8000, help="gateway port"),
) -> None:
    """Start broker + database (unless configured), migrate, run all five services.

    Example: cryptoorch up --port 8000
    """
    from cryptoorch.up import run_up

    raise typer.Exit(run_up(host, port))


@app.command()
def migrate() -> None:
    """Apply each service's migrations (creating its database if needed).

    Example: DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres cryptoorch migrate
    """
    from shared.db import ensure_database
    from shared.migrate import migrate as apply

    async def _run() -> None:
        server = runtime_info.server_database_url()
        for name in SERVICES:
            url = await ensure_database(server, f"{runtime_info.db_prefix()}_{name}")
            applied = await apply(url, runtime_info.migrations_dir(name))
            typer.echo(f"{name}: {len(applied)} migration(s) applied")

    try:
        asyncio.run(_run())
    except runtime_info.NotRunning as exc:
        raise _fail(str(exc)) from None


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Each service's outbox backlog, dead letters and consumer lag, the kill switches engaged,
    the broker and database addresses.

    Example: cryptoorch status --json
    """
    from cryptoorch.status import collect

    try:
        report = asyncio.run(collect())
    except runtime_info.NotRunning as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
        return
    typer.echo(f"broker    {report['kafka_bootstrap_servers']}")
    typer.echo(f"database  {report['database_url']}")
    if "kafka_error" in report:
        typer.echo(f"          {report['kafka_error']}")
    typer.echo(
        f"{'service':<10} {'db':<5} {'outbox backlog':>15} {'dead letters':>13} "
        f"{'consumer lag':>13} {'lag seconds':>12}"
    )
    for name, row in report["services"].items():

        def cell(key: str, row: dict[str, object] = row) -> str:
            value = row.get(key)
            return "-" if value is None else str(value)

        typer.echo(
            f"{name:<10} {row['database']:<5} {cell('outbox_backlog'):>15} "
            f"{cell('dead_letters'):>13} {cell('consumer_lag'):>13} "
            f"{cell('consumer_lag_seconds'):>12}"
        )
    switches = report["kill_switches"]
    if switches is None:
        typer.echo("kill switches: unknown (the gateway database is not readable)")
    elif not switches:
        typer.echo("kill switches: none engaged")
    else:
        typer.echo("kill switches ENGAGED:")
        for switch in switches:
            where = (
                switch["scope"]
                if switch["target"] is None
                else (f"{switch['scope']} {switch['target']}")
            )
            typer.echo(f"  {where} by {switch['changed_by']}: {switch['reason']}")


admin_app = typer.Typer(no_args_is_help=True, help="Administrators.")
app.add_typer(admin_app, name="admin")


@admin_app.command("create")
def admin_create(
    email: str = typer.Option(..., help="the admin's e-mail"),
    password: str = typer.Option(
        ..., envvar="CRYPTOORCH_ADMIN_PASSWORD", prompt=True, hide_input=True, help="password"
    ),
) -> None:
    """Create an admin user (password also from CRYPTOORCH_ADMIN_PASSWORD).

    Example: cryptoorch admin create --email ops@example.com
    """
    from cryptoorch.admin_cmd import create_admin_user

    try:
        user_id = asyncio.run(create_admin_user(email, password))
    except runtime_info.NotRunning as exc:
        raise _fail(str(exc)) from None
    except ValueError as exc:
        raise _fail(f"admin not created: {exc}") from None
    typer.echo(f"admin {email} has user id {user_id}")


dlq_app = typer.Typer(no_args_is_help=True, help="Dead-lettered messages.")
app.add_typer(dlq_app, name="dlq")
outbox_app = typer.Typer(no_args_is_help=True, help="The outbox log.")
app.add_typer(outbox_app, name="outbox")


@dlq_app.command("list")
def dlq_list(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Every parked message, in every service, with its error.

    Example: cryptoorch dlq list --json
    """
    from cryptoorch.dlq import list_parked

    try:
        parked = asyncio.run(list_parked())
    except runtime_info.NotRunning as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps([p.as_dict() for p in parked], indent=2))
        return
    if not parked:
        typer.echo("no dead letters")
    for p in parked:
        state = "re-driven" if p.redriven else "parked"
        typer.echo(f"{p.service:<10} {p.id}  {p.original_topic:<22} {state:<9} {p.error[:80]}")


@dlq_app.command("redrive")
def dlq_redrive(
    dead_letter_id: str = typer.Option(..., "--id", help="id from `dlq list`"),
    service: str = typer.Option(..., help="the service that parked it"),
) -> None:
    """Send a parked message back to its topic once its cause is fixed; applied once.

    Example: cryptoorch dlq redrive --service ledger --id 6f1c...
    """
    from cryptoorch.dlq import redrive
    from shared.dlq import RedriveRefused

    if service not in SERVICES:
        raise _fail(f"unknown service {service!r}; one of {', '.join(SERVICES)}", 2)
    try:
        found = asyncio.run(redrive(service, dead_letter_id))
    except runtime_info.NotRunning as exc:
        raise _fail(str(exc)) from None
    except RedriveRefused as exc:
        raise _fail(f"refused: {exc}") from None
    if not found:
        raise _fail(f"no dead letter {dead_letter_id} in {service}")
    typer.echo(f"re-driven: {dead_letter_id} ({service})")


@outbox_app.command("republish")
def outbox_republish(
    service: str = typer.Option(..., help="whose outbox"),
    since: datetime | None = typer.Option(None, help="only rows created at or after (ISO 8601)"),  # noqa: B008
) -> None:
    """Re-publish a service's outbox log into the broker (after the broker lost it).

    Example: cryptoorch outbox republish --service ledger --since 2026-11-24T00:00:00+00:00
    """
    from cryptoorch.dlq import republish

    if service not in SERVICES:
        raise _fail(f"unknown service {service!r}; one of {', '.join(SERVICES)}", 2)
    try:
        count = asyncio.run(republish(service, since))
    except runtime_info.NotRunning as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"{service}: {count} message(s) queued for re-publishing")


def _mount_optional() -> None:
    """Commands whose modules are written alongside their services."""
    from cryptoorch.check_cmd import check_command

    app.command("check")(check_command)
    from cryptoorch.controls_cmd import controls_command

    app.command("controls")(controls_command)
    from cryptoorch import killswitch_cmd, ledger_cmd, replay_cmd

    app.add_typer(ledger_cmd.app, name="ledger")
    app.add_typer(replay_cmd.replay_app, name="replay")
    app.add_typer(killswitch_cmd.app, name="kill-switch")
    try:
        from cryptoorch import audit_cmd
    except ImportError:  # pragma: no cover - only while a module is being written
        return
    app.add_typer(audit_cmd.app, name="audit", help="The hash-chained audit trail.")
    trace_command = getattr(audit_cmd, "trace_command", None)
    if trace_command is not None:
        app.command("trace")(trace_command)


_mount_optional()


def main() -> None:
    app(prog_name="cryptoorch")


if __name__ == "__main__":
    main()
