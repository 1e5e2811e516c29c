"""A minimal versioned-SQL migration runner (see docs/decisions.md for why not Alembic).

Each service has `migrations/NNNN_name.sql`; the shared outbox/inbox schema is
applied first under its own namespace. Every file runs once, in its own
transaction, under an advisory lock; a file changed after it was applied is an
error, not a silent drift.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import asyncpg

SHARED_MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x6D696772  # "migr"


class MigrationError(RuntimeError):
    pass


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.sql") if p.name[:4].isdigit())


async def migrate(url: str, service_migrations: Path) -> list[str]:
    """Apply shared then service migrations to the database at `url`; return what was applied."""
    conn = await asyncpg.connect(url)
    applied: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   namespace TEXT NOT NULL, version TEXT NOT NULL, checksum TEXT NOT NULL,
                   applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                   PRIMARY KEY (namespace, version))"""
        )
        for namespace, folder in (("shared", SHARED_MIGRATIONS), ("service", service_migrations)):
            for path in _files(folder):
                sql = path.read_text()
                checksum = hashlib.sha256(sql.encode()).hexdigest()
                known = await conn.fetchval(
                    "SELECT checksum FROM schema_migrations WHERE namespace = $1 AND version = $2",
                    namespace,
                    path.name,
                )
                if known == checksum:
                    continue
                if known is not None:
                    raise MigrationError(f"{namespace}/{path.name} changed after it was applied")
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (namespace, version, checksum) "
                        "VALUES ($1, $2, $3)",
                        namespace,
                        path.name,
                        checksum,
                    )
                applied.append(f"{namespace}/{path.name}")
    finally:
        await conn.close()
    return applied
