"""Safety's SQL for the operator's restricted list and the orders the duplicate rule compares.

Like the rest of safety's SQL, it runs on the caller's connection inside the inbox's
transaction, with the account locked, so a decision sees every earlier one of its account.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import asyncpg

from services.safety.domain import Restrictions, SentOrder
from services.safety.errors import InvalidRestriction
from shared.contracts.orders import SYMBOL_PATTERN, Mode, OrderSpec, OrderType, Side
from shared.contracts.restrictions import RestrictionChanged, RestrictionScope
from shared.db import Connection

SENT_LOOKBACK = timedelta(hours=1)
"""How far either side of an order its possible duplicates are loaded at most (the longest
window)."""
ZERO_TIME = timedelta(0)

_SENT_ORDERS = """
SELECT q.account_id, d.order_id, d.symbol, d.side, d.order_type, d.amount, d.price, d.mode,
    d.exchange, d.accepted_at
FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[])
    AS q(account_id, symbol, after, before)
JOIN order_decisions AS d ON d.account_id = q.account_id AND d.symbol = q.symbol
    AND d.approved AND d.accepted_at IS NOT NULL
    AND d.accepted_at > q.after AND d.accepted_at < q.before
ORDER BY q.account_id, d.accepted_at
"""
"""For each (account, symbol, window) asked, its approved orders of the symbol accepted in it."""


def _sent(row: asyncpg.Record) -> SentOrder:
    """Built without validation: the row holds an order that was valid when it was decided."""
    spec = OrderSpec.model_construct(
        order_id=row["order_id"],
        symbol=row["symbol"],
        side=Side(row["side"]),
        type=OrderType(row["order_type"]),
        amount=row["amount"],
        price=row["price"],
        mode=Mode(row["mode"]),
        exchange=row["exchange"],
    )
    return SentOrder(spec, row["accepted_at"])


def restrictions_of(
    found: frozenset[tuple[RestrictionScope, str]], account_id: str, symbol: str | None = None
) -> Restrictions:
    """Of the restrictions `found`, those in force on this account and, if given, this symbol
    (what one request's decision reads)."""
    mine = {(RestrictionScope.ACCOUNT, account_id)}
    if symbol is not None:
        mine.add((RestrictionScope.SYMBOL, symbol))
    return Restrictions(found & mine)


class ControlsStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def sent_orders(
        self, asked: Sequence[tuple[str, str, datetime, timedelta]]
    ) -> dict[str, tuple[SentOrder, ...]]:
        """For each (account, symbol, accepted at, duplicate window) asked (each account once):
        the account's approved orders of the symbol accepted less than the window (an hour at
        most) before or after then, by account: the only ones the duplicate rule compares."""
        sent: dict[str, list[SentOrder]] = {account_id: [] for account_id, _, _, _ in asked}
        windows = [(a, s, at, min(w, SENT_LOOKBACK)) for a, s, at, w in asked if w > ZERO_TIME]
        if windows:
            rows = await self._conn.fetch(
                _SENT_ORDERS,
                [account_id for account_id, _, _, _ in windows],
                [symbol for _, symbol, _, _ in windows],
                [accepted_at - window for _, _, accepted_at, window in windows],
                [accepted_at + window for _, _, accepted_at, window in windows],
            )
            for row in rows:
                sent[row["account_id"]].append(_sent(row))
        return {account_id: tuple(orders) for account_id, orders in sent.items()}

    async def restrictions(
        self, account_ids: Iterable[str], symbols: Iterable[str]
    ) -> frozenset[tuple[RestrictionScope, str]]:
        """The restrictions in force on any of these accounts or symbols (`Restrictions.of`
        picks one request's)."""
        rows = await self._conn.fetch(
            "SELECT scope, target FROM restrictions WHERE restricted AND ("
            "(scope = 'account' AND target = ANY($1::text[])) OR "
            "(scope = 'symbol' AND target = ANY($2::text[])))",
            sorted(set(account_ids)),
            sorted(set(symbols)),
        )
        return frozenset((RestrictionScope(r["scope"]), r["target"]) for r in rows)

    async def save_restriction(self, change: RestrictionChanged, changed_at: datetime) -> None:
        """The newest change of a restriction wins, whatever order the changes arrive in. A
        symbol that is not `BASE/QUOTE` is refused (dead-lettered): it could restrict nothing."""
        if change.scope is RestrictionScope.SYMBOL and not re.fullmatch(
            SYMBOL_PATTERN, change.target
        ):
            raise InvalidRestriction(
                f"a symbol restriction needs BASE/QUOTE, not {change.target!r}"
            )
        await self._conn.execute(
            "INSERT INTO restrictions (scope, target, restricted, reason, changed_by, changed_at) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope, target) DO UPDATE SET "
            "restricted = EXCLUDED.restricted, reason = EXCLUDED.reason, "
            "changed_by = EXCLUDED.changed_by, changed_at = EXCLUDED.changed_at "
            "WHERE restrictions.changed_at <= EXCLUDED.changed_at",
            change.scope.value,
            change.target,
            change.restricted,
            change.reason,
            change.changed_by,
            changed_at,
        )
