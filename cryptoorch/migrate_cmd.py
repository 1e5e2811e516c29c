"""`cryptoorch migrate`: each service's schema, on the server a running system uses."""

from __future__ import annotations

import typer

from cryptoorch import runtime_info
from cryptoorch.exits import run_against_system
from cryptoorch.runtime_info import SERVICES


def migrate_command() -> None:
    """Apply each service's migrations (creating its database if needed).

    Example: DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres cryptoorch migrate
    """
    run_against_system(_migrate())


async def _migrate() -> None:
    from shared.db import ensure_database
    from shared.migrate import migrate as apply

    server = runtime_info.server_database_url()
    for name in SERVICES:
        url = await ensure_database(server, f"{runtime_info.db_prefix()}_{name}")
        applied = await apply(url, runtime_info.migrations_dir(name))
        typer.echo(f"{name}: {len(applied)} migration(s) applied")
