"""`cryptoorch admin create`: through the gateway's own function, against its database."""

from __future__ import annotations

from cryptoorch import runtime_info


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
