"""`cryptoorch outbox republish`: a service's outbox log back into a broker that lost it."""

from __future__ import annotations

from datetime import datetime

import typer

from cryptoorch.exits import require_service, run_against_system

app = typer.Typer(no_args_is_help=True, help="The outbox log.")


@app.command("republish")
def republish_command(
    service: str = typer.Option(..., help="whose outbox"),
    since: datetime | None = typer.Option(None, help="only rows created at or after (ISO 8601)"),  # noqa: B008
) -> None:
    """Re-publish a service's outbox log into the broker (after the broker lost it).

    Example: cryptoorch outbox republish --service ledger --since 2026-11-24T00:00:00+00:00
    """
    from cryptoorch.dlq import republish

    require_service(service)
    count = run_against_system(republish(service, since))
    typer.echo(f"{service}: {count} message(s) queued for re-publishing")
