"""`cryptoorch up`: the whole system in the foreground (see `cryptoorch.up`)."""

from __future__ import annotations

import typer


def up_command(
    host: str = typer.Option("127.0.0.1", help="gateway bind address"),
    port: int = typer.Option(8000, help="gateway port"),
    brokers: int = typer.Option(
        1, min=1, max=9, help="embedded Kafka nodes (3: a secured cluster, topics RF 3, min ISR 2)"
    ),
) -> None:
    """Start broker + database (unless configured), migrate, run all five services.

    Example: cryptoorch up --port 8000; cryptoorch up --brokers 3
    """
    from cryptoorch.up import run_up

    raise typer.Exit(run_up(host, port, brokers))
