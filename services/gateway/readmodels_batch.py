"""The read models a consumed batch at a time: what an order's messages say is folded in
memory, in message order, and written once per table.

Every order the batch speaks of is read (and locked) with one query; each message moves its
order in memory exactly as `ReadModels.handle` would in the database (`next_order_status`,
`kept_reason`); fills are inserted with one statement (a trade counts once) and the totals of
the orders that gained one are recomputed from one read; balances keep the newest version per
asset; audit links and the owners' trail entries are written in message order. Withdrawals,
deposits, keys and kill switches are rare: they go through `ReadModels.apply_other` as they
come. A batch of one is `ReadModels.handle`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from services.gateway.domain import Fill, OrderStatus, next_order_status, summarize_fills
from services.gateway.readmodels import OrderNews, ReadModels, kept_reason, order_news
from services.gateway.store import orders, trail, wallet
from shared.contracts import execution, ledger
from shared.contracts.audit import AuditChainLinks, AuditLink
from shared.contracts.envelope import Envelope
from shared.db import Connection


@dataclass
class OrderState:
    """One order's row as the batch moves it: the status and the reason it will be saved with."""

    user_id: str
    status: OrderStatus
    reason: str | None = None
    detail: str | None = None
    moved: bool = False


@dataclass
class Folded:
    orders: dict[str, OrderState]
    fills: list[tuple[str, Fill]] = field(default_factory=list)
    balances: dict[tuple[str, str], ledger.BalanceChanged] = field(default_factory=dict)
    links: list[AuditLink] = field(default_factory=list)

    def move(self, order_id: str, user_id: str, news: OrderNews) -> None:
        order = self.orders.get(order_id)
        if order is None or order.user_id != user_id:  # unknown here: ignored, as one by one
            return
        status = next_order_status(order.status, news.proposed)
        if status is order.status:
            return
        reason, detail = kept_reason(status, news)
        order.status, order.moved = status, True
        order.reason = reason if reason is not None else order.reason
        order.detail = detail if detail is not None else order.detail


class BatchedReadModels:
    """`ReadModels` for `runtime.consume_batches` (see the module's docstring)."""

    def __init__(self, one: ReadModels) -> None:
        self._one = one

    async def handle(self, conn: Connection, messages: Sequence[Envelope]) -> None:
        if len(messages) == 1:
            await self._one.handle(conn, messages[0])
            return
        wanted = sorted({n.order_id for m in messages if (n := _news_of(m)) is not None})
        rows = await orders.orders_by_id(conn, wanted, lock=True) if wanted else []
        folded = Folded({r.order_id: OrderState(r.user_id, r.status) for r in rows})
        for message in messages:
            await self._fold(conn, folded, message)
        now = self._one.clock()
        await _write(conn, folded, now)
        await trail.add_entries_if_followed(conn, messages)
        for message in messages:
            self._one.metrics.read_model_messages.labels(message.type).inc()

    async def _fold(self, conn: Connection, folded: Folded, message: Envelope) -> None:
        user, payload = message.account_id, message.payload
        news = _news_of(message)
        if news is not None:
            if isinstance(payload, execution.OrderFilled):
                order = folded.orders.get(news.order_id)
                if order is not None and order.user_id == user:  # else unknown: ignored
                    folded.fills.append((payload.order_id, _fill(payload)))
            folded.move(news.order_id, user, news)
        elif isinstance(payload, ledger.BalanceChanged):
            newest = folded.balances.get((user, payload.asset))
            if newest is None or payload.version > newest.version:
                folded.balances[user, payload.asset] = payload
        elif isinstance(payload, AuditChainLinks):
            folded.links += payload.links
        else:
            await self._one.apply_other(conn, message, self._one.clock())


def _fill(filled: execution.OrderFilled) -> Fill:
    return Fill(filled.trade_id, filled.amount, filled.price, filled.fee, filled.fee_asset)


def _news_of(message: Envelope) -> OrderNews | None:
    """`order_news`, and a fill's: the status its venue reported."""
    if isinstance(message.payload, execution.OrderFilled):
        filled = message.payload
        return OrderNews(filled.order_id, OrderStatus(filled.status.value))
    return order_news(message)


async def _write(conn: Connection, folded: Folded, now: datetime) -> None:
    await orders.save_statuses(
        conn,
        [
            (order_id, o.status, o.reason, o.detail)
            for order_id, o in sorted(folded.orders.items())
            if o.moved
        ],
        now,
    )
    if folded.fills:
        gained = await orders.insert_fills(conn, folded.fills)
        fills = await orders.fills_of_orders(conn, gained)
        summaries = [(order_id, summarize_fills(f)) for order_id, f in sorted(fills.items())]
        await orders.save_fill_summaries(conn, summaries, now)
    await wallet.save_balances(
        conn,
        [
            (user, b.asset, b.available, b.held, b.version)
            for (user, _), b in sorted(folded.balances.items())
        ],
        now,
    )
    if folded.links:
        await trail.save_links(conn, folded.links)
