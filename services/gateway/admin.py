"""Operator functions the CLI calls (`cryptoorch admin create`), against the gateway's database."""

from __future__ import annotations

import asyncio
from pathlib import Path

from services.gateway import NAME, auth
from services.gateway.activity import emit, user_registered
from services.gateway.emails import checked_email
from services.gateway.errors import AdminCreationRefused
from services.gateway.store import accounts
from shared.db import connect
from shared.emitter import Emitter
from shared.ids import new_id
from shared.migrate import migrate

MIGRATIONS = Path(__file__).parent / "migrations"


async def create_admin(database_url: str, email: str, password: str) -> str:
    """Create an admin with this e-mail and password in the gateway database at `database_url`
    (its migrations are applied first) and return the user id.

    Run twice, it is idempotent: an existing user with this e-mail and this password is
    promoted to admin (or stays one) and keeps its id. An existing user with another password
    is refused (`AdminCreationRefused`, a `ValueError`): the command cannot take over an
    account whose password the operator does not know.
    """
    try:
        email = checked_email(email)
    except ValueError:
        email = ""
    if not email or len(password) < 8:
        raise AdminCreationRefused("an e-mail address and a password of 8+ characters are needed")
    await migrate(database_url, MIGRATIONS)
    password_hash = await asyncio.to_thread(auth.hash_password, password)
    conn = await connect(database_url)
    try:
        async with conn.transaction():
            user_id = new_id()
            if await accounts.insert_user(conn, user_id, email, password_hash, auth.Role.ADMIN):
                emitter = Emitter(NAME)
                registered = user_registered(
                    emitter, user_id, auth.Role.ADMIN.value, emitter.clock()
                )
                await emit(conn, user_id, registered)
                return user_id
            existing = await accounts.user_by_email(conn, email)
            assert existing is not None
            if not await asyncio.to_thread(auth.verify_password, existing.password_hash, password):
                raise AdminCreationRefused(
                    f"{email} exists with another password; it was not changed or promoted"
                )
            await accounts.set_role(conn, existing.user_id, auth.Role.ADMIN)
            return existing.user_id
    finally:
        await conn.close()
