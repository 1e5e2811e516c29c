"""`cryptoorch admin create`: through the gateway's own function, against its database."""

from __future__ import annotations

import typer

from cryptoorch import runtime_info
from cryptoorch.exits import fail, run_against_system

app = typer.Typer(no_args_is_help=True, help="Administrators.")


@app.command("create")
def create_command(
    email: str = typer.Option(..., help="the admin's e-mail"),
    password: str = typer.Option(
        ..., envvar="CRYPTOORCH_ADMIN_PASSWORD", prompt=True, hide_input=True, help="password"
    ),
) -> None:
    """Create an admin user (password also from CRYPTOORCH_ADMIN_PASSWORD).

    Example: cryptoorch admin create --email ops@example.com
    """
    try:
        user_id = run_against_system(create_admin_user(email, password))
    except ValueError as exc:
        raise fail(f"admin not created: {exc}") from None
    typer.echo(f"admin {email} has user id {user_id}")


async def create_admin_user(email: str, password: str) -> str:
    from services.gateway.admin import create_admin
    from shared.service import prepare_database
    from shared.settings import CommonSettings

    settings = CommonSettings(
        DATABASE_URL=runtime_info.server_database_url(),
        db_prefix=runtime_info.db_prefix(),
    )
    url = await prepare_database(settings, "gateway", runtime_info.migrations_dir("gateway"))
    return await create_admin(url, email, password)
