"""`cryptoorch dlq list` and `cryptoorch dlq redrive`: parked messages (see `cryptoorch.dlq`)."""

from __future__ import annotations

import json

import typer

from cryptoorch.exits import fail, require_service, run_against_system

app = typer.Typer(no_args_is_help=True, help="Dead-lettered messages.")


@app.command("list")
def list_command(
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Every parked message, in every service, with its error.

    Example: cryptoorch dlq list --json
    """
    from cryptoorch.dlq import list_parked

    parked = run_against_system(list_parked())
    if as_json:
        typer.echo(json.dumps([p.as_dict() for p in parked], indent=2))
        return
    if not parked:
        typer.echo("no dead letters")
    for p in parked:
        state = "re-driven" if p.redriven else "parked"
        typer.echo(f"{p.service:<10} {p.id}  {p.original_topic:<22} {state:<9} {p.error[:80]}")


@app.command("redrive")
def redrive_command(
    dead_letter_id: str = typer.Option(..., "--id", help="id from `dlq list`"),
    service: str = typer.Option(..., help="the service that parked it"),
) -> None:
    """Send a parked message back to its topic once its cause is fixed; applied once.

    Example: cryptoorch dlq redrive --service ledger --id 6f1c...
    """
    from cryptoorch.dlq import redrive
    from shared.dlq import RedriveRefused

    require_service(service)
    try:
        found = run_against_system(redrive(service, dead_letter_id))
    except RedriveRefused as exc:
        raise fail(f"refused: {exc}") from None
    if not found:
        raise fail(f"no dead letter {dead_letter_id} in {service}")
    typer.echo(f"re-driven: {dead_letter_id} ({service})")
