"""PostgreSQL access: one pool per service, databases created on demand, transient errors named."""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager
from typing import Protocol, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from shared.settings import database_url_for

Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"
"""A connection, pooled or not: what handlers and stores receive."""


class ConnectionPool(Protocol):
    """What code that only borrows connections needs of a pool (the gateway's requests): a
    connection lent for a block. asyncpg's `Pool` is one; so is a test's pool that fails the
    test when a request reaches the database."""

    def acquire(self) -> AbstractAsyncContextManager[PoolConnectionProxy[asyncpg.Record]]: ...


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.LockNotAvailableError,
    ConnectionError,
    OSError,
)
"""Errors worth retrying as they are: the database, not the message, is the problem."""


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(url: str, *, size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        url, min_size=1, max_size=size, init=_init_connection, command_timeout=60
    )
    assert pool is not None
    return pool


async def connect(url: str) -> asyncpg.Connection:
    conn: asyncpg.Connection = await asyncpg.connect(url)
    await _init_connection(conn)
    return conn


async def ensure_database(server_url: str, name: str) -> str:
    """Create database `name` on the server if missing; return its URL."""
    admin = await asyncpg.connect(database_url_for(server_url, "postgres"))
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            try:
                await admin.execute(f'CREATE DATABASE "{name}"')
            except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
                pass  # created concurrently by another process: what we wanted
    finally:
        await admin.close()
    return database_url_for(server_url, name)


async def drop_database(server_url: str, name: str) -> None:
    admin = await asyncpg.connect(database_url_for(server_url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
