"""SQL for work at venues across the network: which orders are due to be sent or looked at.

The database clock (`now()`) schedules the work, so several instances agree on what is due;
`FOR UPDATE SKIP LOCKED` hands each due order to one of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.execution.domain.orders import (
    PAPER_VENUE,
    OrderRecord,
    WithdrawalRecord,
    WithdrawalStatus,
)
from services.execution.store_orders import ORDER_COLUMNS, order_from_row
from shared.db import Connection

_TRACKING = "submissions, not_found, failures, cancel_requested"


@dataclass(frozen=True)
class Tracked:
    """An order at a remote venue with the counters of the unknown-outcome rule."""

    order: OrderRecord
    submissions: int
    not_found: int
    failures: int
    cancel_requested: bool


def _tracked(row: asyncpg.Record) -> Tracked:
    order = order_from_row(row)
    assert order is not None
    return Tracked(
        order, row["submissions"], row["not_found"], row["failures"], row["cancel_requested"]
    )


class RemoteOrderStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def claim_next_for_sending(self, lease_seconds: float) -> Tracked | None:
        """The next pending order due, turned `unknown` BEFORE the request: a crash after sending
        leaves it to be looked up, never sent blindly. The lease keeps lookups away while the
        request is out. One at a time, so a crash charges a send only to the order being sent.
        Call inside a transaction, and commit before sending."""
        row = await self._conn.fetchrow(
            f"UPDATE orders SET status = 'unknown', submissions = submissions + 1, "
            f"not_found = 0, next_check_at = now() + make_interval(secs => $1), "
            f"updated_at = now() WHERE order_id = ("
            f"  SELECT order_id FROM orders WHERE status = 'pending' AND venue <> '{PAPER_VENUE}'"
            f"  AND NOT cancel_requested AND next_check_at <= now()"
            f"  ORDER BY next_check_at FOR UPDATE SKIP LOCKED LIMIT 1) "
            f"RETURNING {ORDER_COLUMNS}, {_TRACKING}",
            lease_seconds,
        )
        return None if row is None else _tracked(row)

    async def due(self, limit: int, *, everything: bool = False) -> list[Tracked]:
        """Non-terminal remote orders due to be looked at (all of them with `everything`)."""
        due = "" if everything else " AND next_check_at <= now()"
        statuses = "('pending', 'open', 'unknown')" if everything else "('open', 'unknown')"
        rows = await self._conn.fetch(
            f"SELECT {ORDER_COLUMNS}, {_TRACKING} FROM orders WHERE status IN {statuses} "
            f"AND venue <> '{PAPER_VENUE}'{due} ORDER BY next_check_at LIMIT $1",
            limit,
        )
        return [_tracked(r) for r in rows]

    async def pending_cancels(self, limit: int) -> list[Tracked]:
        """Orders never sent whose cancel arrived: cancelled here, never sent."""
        rows = await self._conn.fetch(
            f"SELECT {ORDER_COLUMNS}, {_TRACKING} FROM orders WHERE status = 'pending' "
            f"AND cancel_requested AND venue <> '{PAPER_VENUE}' LIMIT $1",
            limit,
        )
        return [_tracked(r) for r in rows]

    async def locked(self, order_id: str) -> Tracked | None:
        row = await self._conn.fetchrow(
            f"SELECT {ORDER_COLUMNS}, {_TRACKING} FROM orders WHERE order_id = $1 FOR UPDATE",
            order_id,
        )
        return None if row is None else _tracked(row)

    async def look_again(
        self, order_id: str, *, after_seconds: float, failures: int, not_found: int
    ) -> None:
        await self._conn.execute(
            "UPDATE orders SET failures = $2, not_found = $3, "
            "next_check_at = now() + make_interval(secs => $4), updated_at = now() "
            "WHERE order_id = $1",
            order_id,
            failures,
            not_found,
            after_seconds,
        )

    async def send_again(self, order_id: str, *, after_seconds: float = 0.0) -> None:
        """Back to `pending`: concluded never placed, or never sent (the venue was not reached)."""
        await self._conn.execute(
            "UPDATE orders SET status = 'pending', not_found = 0, failures = 0, "
            "next_check_at = now() + make_interval(secs => $2), updated_at = now() "
            "WHERE order_id = $1",
            order_id,
            after_seconds,
        )

    async def unsend(self, order_id: str, *, after_seconds: float) -> None:
        """The request was certainly not sent: pending again, and the send does not count."""
        await self._conn.execute(
            "UPDATE orders SET status = 'pending', submissions = greatest(submissions - 1, 0), "
            "next_check_at = now() + make_interval(secs => $2), updated_at = now() "
            "WHERE order_id = $1",
            order_id,
            after_seconds,
        )


@dataclass(frozen=True)
class TrackedWithdrawal:
    withdrawal: WithdrawalRecord
    status: WithdrawalStatus
    submissions: int
    not_found: int
    failures: int


_WITHDRAWAL_COLUMNS = (
    "withdrawal_id, account_id, venue, asset, amount, address, network, status, "
    "submissions, not_found, failures"
)


def _tracked_withdrawal(row: asyncpg.Record) -> TrackedWithdrawal:
    record = WithdrawalRecord(
        withdrawal_id=row["withdrawal_id"],
        account_id=row["account_id"],
        venue=row["venue"],
        asset=row["asset"],
        amount=row["amount"],
        address=row["address"],
        network=row["network"],
    )
    return TrackedWithdrawal(
        record,
        WithdrawalStatus(row["status"]),
        row["submissions"],
        row["not_found"],
        row["failures"],
    )


class RemoteWithdrawalStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def claim_next_for_sending(self, lease_seconds: float) -> TrackedWithdrawal | None:
        """Like orders: one at a time, `unknown` (with a lease) before the request, committed
        before it."""
        row = await self._conn.fetchrow(
            f"UPDATE withdrawals SET status = 'unknown', submissions = submissions + 1, "
            f"next_check_at = now() + make_interval(secs => $1), updated_at = now() "
            f"WHERE withdrawal_id = (SELECT withdrawal_id FROM withdrawals "
            f"  WHERE status = 'pending' AND venue <> '{PAPER_VENUE}' AND next_check_at <= now()"
            f"  ORDER BY next_check_at FOR UPDATE SKIP LOCKED LIMIT 1) "
            f"RETURNING {_WITHDRAWAL_COLUMNS}",
            lease_seconds,
        )
        return None if row is None else _tracked_withdrawal(row)

    async def due(self, limit: int, *, everything: bool = False) -> list[TrackedWithdrawal]:
        due = "" if everything else " AND next_check_at <= now()"
        rows = await self._conn.fetch(
            f"SELECT {_WITHDRAWAL_COLUMNS} FROM withdrawals WHERE status = 'unknown' "
            f"AND venue <> '{PAPER_VENUE}'{due} ORDER BY next_check_at LIMIT $1",
            limit,
        )
        return [_tracked_withdrawal(r) for r in rows]

    async def locked(self, withdrawal_id: str) -> TrackedWithdrawal | None:
        row = await self._conn.fetchrow(
            f"SELECT {_WITHDRAWAL_COLUMNS} FROM withdrawals WHERE withdrawal_id = $1 FOR UPDATE",
            withdrawal_id,
        )
        return None if row is None else _tracked_withdrawal(row)

    async def look_again(
        self, withdrawal_id: str, *, after_seconds: float, failures: int, not_found: int
    ) -> None:
        await self._conn.execute(
            "UPDATE withdrawals SET failures = $2, not_found = $3, "
            "next_check_at = now() + make_interval(secs => $4), updated_at = now() "
            "WHERE withdrawal_id = $1",
            withdrawal_id,
            failures,
            not_found,
            after_seconds,
        )

    async def unsend(self, withdrawal_id: str, *, after_seconds: float) -> None:
        await self._conn.execute(
            "UPDATE withdrawals SET status = 'pending', "
            "submissions = greatest(submissions - 1, 0), "
            "next_check_at = now() + make_interval(secs => $2), updated_at = now() "
            "WHERE withdrawal_id = $1",
            withdrawal_id,
            after_seconds,
        )
