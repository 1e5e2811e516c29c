"""Safety's SQL for the operator's restricted list and the orders the duplicate rule compares.

Like the rest of safety's SQL, it runs on the caller's connection inside the inbox's
transaction, with the account locked, so a decision sees every earlier one of its account.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import asyncpg

from services.safety.domain import Restrictions, SentOrder
from services.safety.errors import InvalidRestriction
from shared.contracts.orders import SYMBOL_PATTERN, Mode, OrderSpec, OrderType, Side
from shared.contracts.restrictions import RestrictionChanged, RestrictionScope
from shared.db import Connection

SENT_LOOKBACK = timedelta(hours=1)
"""How far either side of an order its possible duplicates are loaded (the longest window)."""

_SENT_ORDERS = """
SELECT order_id, symbol, side, order_type, amount, price, mode, exchange, accepted_at
FROM order_decisions
WHERE account_id = $1 AND symbol = $2 AND approved AND accepted_at IS NOT NULL
  AND accepted_at > $3 AND accepted_at < $4
ORDER BY accepted_at
"""


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


class ControlsStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def sent_orders(
        self, account_id: str, symbol: str, accepted_at: datetime
    ) -> tuple[SentOrder, ...]:
        """The account's approved orders of `symbol` accepted within an hour of `accepted_at`."""
        rows = await self._conn.fetch(
            _SENT_ORDERS,
            account_id,
            symbol,
            accepted_at - SENT_LOOKBACK,
            accepted_at + SENT_LOOKBACK,
        )
        return tuple(_sent(row) for row in rows)

    async def restrictions(self, account_id: str, symbol: str | None = None) -> Restrictions:
        """The restrictions in force on this account and, if given, this symbol."""
        rows = await self._conn.fetch(
            "SELECT scope, target FROM restrictions WHERE restricted AND ("
            "(scope = 'account' AND target = $1) OR (scope = 'symbol' AND target = $2))",
            account_id,
            symbol,
        )
        return Restrictions(frozenset((RestrictionScope(r["scope"]), r["target"]) for r in rows))

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
