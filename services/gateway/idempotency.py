"""`Idempotency-Key` on money endpoints (IETF draft, Stripe semantics; API.md).

The key row is inserted in the same transaction as the request's effects and
completed with the exact response bytes before commit, so the key, the read-model
row and the outbox command exist together or not at all. A second request with
the key while the first is uncommitted waits on the unique index at most
`lock_timeout` and then answers 409; after the commit it finds the row and
replays it (same body) or refuses a different body (422).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.gateway.errors import (
    IdempotencyKeyInvalid,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
    IdempotencyRequestInProgress,
)
from shared.db import Connection

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


@dataclass(frozen=True)
class IdempotentRequest:
    user_id: str
    endpoint: str
    """Method and route template, e.g. `POST /v1/orders`: a key is scoped to user + endpoint."""
    key: str
    fingerprint: str


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: bytes


def checked_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise IdempotencyKeyRequired(f"the {HEADER} header is required on this endpoint")
    if not _KEY.match(key):
        raise IdempotencyKeyInvalid(f"{HEADER} must be 1 to 255 visible ASCII characters")
    return key


def fingerprint(request: dict[str, Any]) -> str:
    """What makes two requests "the same": the validated body and path, canonical JSON."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def begin(
    conn: Connection,
    request: IdempotentRequest,
    *,
    now: datetime,
    retention: timedelta,
    lock_timeout_ms: int,
) -> StoredResponse | None:
    """Claim the key inside the caller's transaction: None if this request is the first (go on,
    then `finish`), the stored response if it is a replay; raises on reuse or while in flight."""
    await conn.execute(f"SET LOCAL lock_timeout = '{int(lock_timeout_ms)}ms'")
    try:
        claimed = await _claim(conn, request, now)
        if not claimed:  # a row past the retention that the purge has not reached yet is gone
            expired = await conn.execute(
                "DELETE FROM idempotency_keys WHERE user_id = $1 AND endpoint = $2 AND key = $3 "
                "AND created_at < $4",
                request.user_id,
                request.endpoint,
                request.key,
                now - retention,
            )
            if expired != "DELETE 0":
                claimed = await _claim(conn, request, now)
    except asyncpg.LockNotAvailableError:
        raise IdempotencyRequestInProgress(
            "a request with this Idempotency-Key is still being processed; retry later"
        ) from None
    await conn.execute("SET LOCAL lock_timeout TO DEFAULT")
    if claimed:
        return None
    row = await conn.fetchrow(
        "SELECT request_hash, status_code, response_body FROM idempotency_keys "
        "WHERE user_id = $1 AND endpoint = $2 AND key = $3",
        request.user_id,
        request.endpoint,
        request.key,
    )
    if row is None:  # purged between our insert and this read: as good as in flight
        raise IdempotencyRequestInProgress("retry the request")
    if row["request_hash"] != request.fingerprint:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was used with a different request; use a new key"
        )
    return StoredResponse(row["status_code"], bytes(row["response_body"]))


async def _claim(conn: Connection, request: IdempotentRequest, now: datetime) -> bool:
    """Insert the key row; False if one is there (committed, or in flight: then this waits
    for it, at most `lock_timeout`). A new key, the usual case, costs this one round trip."""
    claimed = await conn.fetchval(
        "INSERT INTO idempotency_keys (user_id, endpoint, key, request_hash, status_code, "
        "response_body, created_at) VALUES ($1, $2, $3, $4, 0, ''::bytea, $5) "
        "ON CONFLICT DO NOTHING RETURNING 1",
        request.user_id,
        request.endpoint,
        request.key,
        request.fingerprint,
        now,
    )
    return bool(claimed)


async def finish(
    conn: Connection, request: IdempotentRequest, status_code: int, body: bytes
) -> None:
    await conn.execute(
        "UPDATE idempotency_keys SET status_code = $4, response_body = $5 "
        "WHERE user_id = $1 AND endpoint = $2 AND key = $3",
        request.user_id,
        request.endpoint,
        request.key,
        status_code,
        body,
    )


async def purge(conn: Connection, before: datetime) -> int:
    """Forget keys older than the retention (24 h by default)."""
    result = await conn.execute("DELETE FROM idempotency_keys WHERE created_at < $1", before)
    return int(result.split()[-1])
