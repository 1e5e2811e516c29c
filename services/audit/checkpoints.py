"""Checkpoints: the chain head, published as `AuditCheckpoint` and written to a file outside the DB.

Whoever can rewrite the whole table can recompute every hash; they cannot
rewrite what was already published and written elsewhere. `audit verify` holds
the trail against the file, so a consistent rewrite shows as a mismatch there.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg

from services.audit import store
from services.audit.chain import Checkpoint
from services.audit.errors import CheckpointFileInvalid
from shared.contracts.audit import AuditCheckpoint
from shared.db import TRANSIENT_ERRORS, Connection
from shared.emitter import Emitter
from shared.ids import SYSTEM_ACCOUNT, derived_id

log = logging.getLogger(__name__)
_HASH = re.compile(r"^[0-9a-f]{64}$")


def checkpoint_due(
    *, head_seq: int, last_seq: int, since: datetime, now: datetime, every: int, seconds: float
) -> bool:
    """Due after `every` appends, or `seconds` after the last one when anything was appended."""
    appended = head_seq - last_seq
    return appended >= every or (appended > 0 and now - since >= timedelta(seconds=seconds))


def checkpoint_line(checkpoint: Checkpoint) -> str:
    fields = {k: v for k, v in asdict(checkpoint).items() if v is not None}
    return json.dumps(fields, sort_keys=True, separators=(",", ":")) + "\n"


def parse_checkpoint_line(line: str, line_number: int) -> Checkpoint:
    try:
        data = json.loads(line)
        seq, hash_, at, database = data["seq"], data["hash"], data["at"], data.get("database")
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointFileInvalid(line_number, f"not a checkpoint ({exc!r})") from None
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise CheckpointFileInvalid(line_number, f"seq {seq!r} is not a positive integer")
    if not isinstance(hash_, str) or not _HASH.match(hash_):
        raise CheckpointFileInvalid(line_number, f"hash {hash_!r} is not 64 lowercase hex digits")
    if not isinstance(database, str | None) or not isinstance(at, str):
        raise CheckpointFileInvalid(line_number, "at/database must be strings")
    return Checkpoint(seq, hash_, at, database)


def read_checkpoints(path: Path, database: str) -> list[Checkpoint]:
    """The file's checkpoints of `database` (lines of another database's trail are not ours)."""
    checkpoints = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                checkpoint = parse_checkpoint_line(line, number)
                if checkpoint.database in (None, database):
                    checkpoints.append(checkpoint)
    return checkpoints


def append_checkpoint_line(path: Path, checkpoint: Checkpoint) -> None:
    """One write on an O_APPEND descriptor, then fsync: a line lands whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, checkpoint_line(checkpoint).encode())
        os.fsync(fd)
    finally:
        os.close(fd)


async def take_checkpoint(
    conn: Connection, emitter: Emitter, *, file: Path, database: str, now: datetime
) -> Checkpoint | None:
    """Checkpoint the current head: recorded, written to `file`, and published, in one transaction.

    The file line is written before the commit, so the file never lacks a checkpoint the
    database recorded; a crash after the write leaves a line naming a committed head, still true.
    """
    async with conn.transaction():
        head = await store.read_head(conn)
        if head.seq == 0 or not await store.insert_checkpoint(conn, head, now):
            return None
        checkpoint = Checkpoint(head.seq, head.hash, now.isoformat(), database)
        await emitter.emit(
            conn,
            AuditCheckpoint(seq=head.seq, hash=head.hash),
            account_id=SYSTEM_ACCOUNT,
            correlation_id=f"audit-checkpoint-{head.seq}",
            now=now,
            event_id=derived_id("audit-checkpoint", database, head.seq),
        )
        await asyncio.to_thread(append_checkpoint_line, file, checkpoint)
    log.info("audit: checkpoint at seq %d", head.seq)
    return checkpoint


class CheckpointTask:
    """Background task: looks at the head every `poll_seconds` and checkpoints when due."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        emitter: Emitter,
        *,
        database: str,
        file: Path,
        every: int,
        seconds: float,
        poll_seconds: float,
    ) -> None:
        self._pool = pool
        self._emitter = emitter
        self._database = database
        self._file = file
        self._every = every
        self._seconds = seconds
        self._poll = poll_seconds

    async def run(self, stop: asyncio.Event) -> None:
        started = self._emitter.clock()
        while not stop.is_set():
            try:
                await self.checkpoint_if_due(started, self._emitter.clock())
            except TRANSIENT_ERRORS as exc:  # database or file unavailable: the next look retries
                log.warning("audit: checkpoint not taken (%s); retrying", exc)
            try:
                await asyncio.wait_for(stop.wait(), timeout=self._poll)
            except TimeoutError:
                pass

    async def checkpoint_if_due(self, started: datetime, now: datetime) -> Checkpoint | None:
        async with self._pool.acquire() as conn:
            head = await store.read_head(conn)
            last = await store.last_checkpoint(conn)
            last_seq, since = last if last is not None else (0, started)
            due = checkpoint_due(
                head_seq=head.seq,
                last_seq=last_seq,
                since=since,
                now=now,
                every=self._every,
                seconds=self._seconds,
            )
            if not due:
                return None
            return await take_checkpoint(
                conn, self._emitter, file=self._file, database=self._database, now=now
            )
