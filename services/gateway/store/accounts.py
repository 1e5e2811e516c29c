"""Users, their 2FA state, failed attempts (rate limits) and exchange keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.gateway.auth import Role
from shared.db import Connection


@dataclass(frozen=True)
class UserRow:
    user_id: str
    email: str
    password_hash: str
    role: Role
    totp_enabled: bool
    totp_secret: bytes | None
    totp_pending_secret: bytes | None
    totp_last_counter: int | None


_USER_COLUMNS = (
    "user_id, email, password_hash, role, totp_enabled, totp_secret, totp_pending_secret, "
    "totp_last_counter"
)


def _user(row: asyncpg.Record | None) -> UserRow | None:
    if row is None:
        return None
    values = dict(row)
    values["role"] = Role(values["role"])
    return UserRow(**values)


async def insert_user(
    conn: Connection, user_id: str, email: str, password_hash: str, role: Role
) -> bool:
    """False when the e-mail is taken."""
    inserted = await conn.fetchval(
        "INSERT INTO users (user_id, email, password_hash, role) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (email) DO NOTHING RETURNING 1",
        user_id,
        email,
        password_hash,
        role.value,
    )
    return inserted is not None


async def user_by_email(conn: Connection, email: str) -> UserRow | None:
    return _user(await conn.fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE email = $1", email))


async def user_by_id(conn: Connection, user_id: str, *, lock: bool = False) -> UserRow | None:
    suffix = " FOR UPDATE" if lock else ""
    query = f"SELECT {_USER_COLUMNS} FROM users WHERE user_id = $1{suffix}"
    return _user(await conn.fetchrow(query, user_id))


async def user_exists(conn: Connection, user_id: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM users WHERE user_id = $1", user_id))


async def set_role(conn: Connection, user_id: str, role: Role) -> None:
    await conn.execute("UPDATE users SET role = $2 WHERE user_id = $1", user_id, role.value)


async def set_pending_totp(conn: Connection, user_id: str, sealed_secret: bytes) -> None:
    await conn.execute(
        "UPDATE users SET totp_pending_secret = $2 WHERE user_id = $1", user_id, sealed_secret
    )


async def enable_totp(conn: Connection, user_id: str, sealed_secret: bytes, counter: int) -> None:
    await conn.execute(
        "UPDATE users SET totp_secret = $2, totp_pending_secret = NULL, totp_enabled = true, "
        "totp_last_counter = $3 WHERE user_id = $1",
        user_id,
        sealed_secret,
        counter,
    )


async def use_totp_counter(conn: Connection, user_id: str, counter: int) -> bool:
    """Record `counter` as used; False if it (or a later one) was used already: a replay.
    The guarded UPDATE makes two concurrent uses of one code end with one winner."""
    updated = await conn.fetchval(
        "UPDATE users SET totp_last_counter = $2 WHERE user_id = $1 "
        "AND (totp_last_counter IS NULL OR totp_last_counter < $2) RETURNING 1",
        user_id,
        counter,
    )
    return updated is not None


async def record_failures(conn: Connection, subjects: list[str], now: datetime) -> None:
    await conn.executemany(
        "INSERT INTO login_failures (subject, failed_at) VALUES ($1, $2)",
        [(subject, now) for subject in subjects],
    )


async def recent_failures(
    conn: Connection, subject: str, since: datetime
) -> tuple[int, datetime | None]:
    """How many failures `subject` had since `since`, and when the oldest of them was."""
    row = await conn.fetchrow(
        "SELECT count(*) AS n, min(failed_at) AS oldest FROM login_failures "
        "WHERE subject = $1 AND failed_at >= $2",
        subject,
        since,
    )
    assert row is not None
    return int(row["n"]), row["oldest"]


async def clear_failures(conn: Connection, subject: str) -> None:
    await conn.execute("DELETE FROM login_failures WHERE subject = $1", subject)


async def purge_failures(conn: Connection, before: datetime) -> int:
    result = await conn.execute("DELETE FROM login_failures WHERE failed_at < $1", before)
    return int(result.split()[-1])


async def insert_exchange_key(
    conn: Connection,
    *,
    key_id: str,
    user_id: str,
    exchange: str,
    api_key: bytes,
    secret: bytes,
    password: bytes | None,
) -> None:
    await conn.execute(
        "INSERT INTO exchange_keys (key_id, user_id, exchange, api_key, secret, password) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        key_id,
        user_id,
        exchange,
        api_key,
        secret,
        password,
    )


async def mark_key_validated(conn: Connection, user_id: str, key_id: str, valid: bool) -> None:
    await conn.execute(
        "UPDATE exchange_keys SET validated = $3 WHERE key_id = $1 AND user_id = $2",
        key_id,
        user_id,
        valid,
    )


@dataclass(frozen=True)
class AccountRow:
    user_id: str
    email: str
    role: Role


async def newest_accounts(conn: Connection, limit: int) -> list[AccountRow]:
    rows = await conn.fetch(
        "SELECT user_id, email, role FROM users ORDER BY created_at DESC, user_id LIMIT $1", limit
    )
    return [AccountRow(row["user_id"], row["email"], Role(row["role"])) for row in rows]


async def exchanges_of_accounts(conn: Connection, user_ids: list[str]) -> dict[str, list[str]]:
    """The venues each of `user_ids` has a key for (validated or not), by account."""
    rows = await conn.fetch(
        "SELECT DISTINCT user_id, exchange FROM exchange_keys WHERE user_id = ANY($1::text[]) "
        "ORDER BY user_id, exchange",
        user_ids,
    )
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(row["user_id"], []).append(row["exchange"])
    return found
