"""`cryptoorch status`: what `cryptoorch.status` collects, as a table or as JSON."""

from __future__ import annotations

import json
from typing import Any

import typer

from cryptoorch.exits import run_against_system


def status_command(
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Each service's outbox backlog, dead letters and consumer lag, the kill switches engaged,
    the broker and database addresses.

    Example: cryptoorch status --json
    """
    from cryptoorch.status import collect

    report = run_against_system(collect())
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
        return
    _print(report)


def _print(report: dict[str, Any]) -> None:
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
