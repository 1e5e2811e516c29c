"""Deciding a run of requests at once: orders and withdrawals, each of another account.

The run's accounts are locked in one statement; what their decisions read is loaded with one
statement per table; each request is decided in memory by the pure domain, in the run's order;
every decision row, daily total and outbox message is written with one statement per table.
As each request is of another account, no decision of the run reads what another one writes:
deciding them one by one, in any order, would decide each the same (see docs/decisions.md).
The run reads the emitter's clock once: its decisions share that moment.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from services.safety.domain import (
    Limits,
    OrderCheck,
    WithdrawalCheck,
    decide_order,
    decide_withdrawal,
    flag_for,
    request_time,
    utc_day,
)
from services.safety.domain.suspicious import Outcome
from services.safety.domain.valuation import VALUATION_QUOTE
from services.safety.post_trade import OrderDecided, after_orders
from services.safety.store_controls import ControlsStore, restrictions_of
from services.safety.store_decisions import (
    DecidedOrder,
    DecidedWithdrawal,
    DecisionStore,
    book_for,
)
from shared import metrics
from shared.contracts.decisions import SuspiciousActivityFlagged
from shared.contracts.envelope import Envelope
from shared.contracts.orders import PlaceOrder
from shared.contracts.wallet import RequestWithdrawal
from shared.db import Connection
from shared.emitter import Emitter
from shared.ids import derived_id
from shared.inbox import in_trace_of

log = logging.getLogger(__name__)
Request = PlaceOrder | RequestWithdrawal


def request_of(message: Envelope) -> Request | None:
    match message.payload:
        case PlaceOrder() | RequestWithdrawal() as request:
            return request
        case _:
            return None


def request_id(request: Request) -> str:
    if isinstance(request, PlaceOrder):
        return request.order.order_id
    return request.withdrawal.withdrawal_id


@dataclass
class Run:
    """Consecutive requests, each of another account and with another id."""

    messages: list[Envelope] = field(default_factory=list)
    accounts: set[str] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)

    def admits(self, message: Envelope, request: Request) -> bool:
        return message.account_id not in self.accounts and request_id(request) not in self.ids

    def add(self, message: Envelope, request: Request) -> None:
        self.messages.append(message)
        self.accounts.add(message.account_id)
        self.ids.add(request_id(request))


@dataclass
class Outbox:
    """The run's messages (each continues its cause's trace: `shared.outbox.enqueue`)."""

    messages: list[Envelope]


async def decide_run(
    conn: Connection, emitter: Emitter, limits: Limits, run: Sequence[Envelope]
) -> None:
    """Decide `run`: requests (`request_of`), each of another account and with another id."""
    log.debug("safety: deciding a run of %d requests", len(run))
    store = DecisionStore(conn)
    await store.lock_accounts([m.account_id for m in run])
    requests = [(m, request_of(m)) for m in run]
    orders_done, withdrawals_done = await store.decided(
        [r.order.order_id for _, r in requests if isinstance(r, PlaceOrder)],
        [r.withdrawal.withdrawal_id for _, r in requests if isinstance(r, RequestWithdrawal)],
    )
    fresh: list[tuple[Envelope, Request]] = []
    for message, request in requests:
        assert request is not None
        if isinstance(request, PlaceOrder) and request.order.order_id in orders_done:
            with in_trace_of(message):
                log.warning(
                    "order %s already decided; %s ignored", request_id(request), message.event_id
                )
        elif isinstance(request, RequestWithdrawal) and request_id(request) in withdrawals_done:
            with in_trace_of(message):
                log.warning("withdrawal %s already decided; ignored", request_id(request))
        else:
            fresh.append((message, request))
    if fresh:
        await _decide(conn, emitter, limits, fresh)


async def _decide(
    conn: Connection, emitter: Emitter, limits: Limits, fresh: list[tuple[Envelope, Request]]
) -> None:
    now = emitter.clock()
    asked = [(m, r, request_time(m.occurred_at, now, limits.request_max_skew)) for m, r in fresh]
    orders = [(m, r.order, at) for m, r, at in asked if isinstance(r, PlaceOrder)]
    store, controls = DecisionStore(conn), ControlsStore(conn)
    inputs = await store.decision_inputs(
        now,
        [
            (m.account_id, at, r.order.base if isinstance(r, PlaceOrder) else None)
            for m, r, at in asked
        ],
        utc_day(now),
    )
    limits_of = {a: limits.with_overrides(loaded.limit_overrides) for a, loaded in inputs.items()}
    prices = await store.prices({s for _, r, _ in asked for s in _price_symbols(r)})
    markets, sent = {}, {}
    if orders:
        markets = await store.markets({(o.exchange, o.symbol) for _, o, _ in orders})
        sent = await controls.sent_orders(
            [
                (m.account_id, o.symbol, m.occurred_at, limits_of[m.account_id].duplicate_window)
                for m, o, _ in orders
            ]
        )
    found = await controls.restrictions(
        [m.account_id for m, _ in fresh], [o.symbol for _, o, _ in orders]
    )
    outbox = Outbox([])
    decided_orders: list[DecidedOrder] = []
    decided_withdrawals: list[DecidedWithdrawal] = []
    post_trade: list[OrderDecided] = []
    for message, request, requested_at in asked:
        account_id, loaded = message.account_id, inputs[message.account_id]
        request_limits = limits_of[account_id]
        with in_trace_of(message):
            if isinstance(request, PlaceOrder):
                order = request.order
                order_check = OrderCheck(
                    account_id=account_id,
                    command=request,
                    account=replace(loaded.account, sent_orders=sent[account_id]),
                    limits=request_limits,
                    prices=book_for(prices, _price_symbols(request)),
                    switches=loaded.switches,
                    now=now,
                    market=markets[order.exchange, order.symbol],
                    requested_at=requested_at,
                    accepted_at=message.occurred_at,
                    restrictions=restrictions_of(found, account_id, order.symbol),
                )
                decision = decide_order(order_check)
                decided_orders.append(
                    DecidedOrder(account_id, order, decision, requested_at, message.occurred_at)
                )
                post_trade.append(
                    OrderDecided(message, order.order_id, requested_at, request_limits)
                )
                _emit(outbox, emitter, message, decision.outcome, order.order_id, now)
            else:
                withdrawal = request.withdrawal
                withdrawal_check = WithdrawalCheck(
                    account_id=account_id,
                    command=request,
                    account=loaded.account,
                    limits=request_limits,
                    prices=book_for(prices, _price_symbols(request)),
                    switches=loaded.switches,
                    now=now,
                    requested_at=requested_at,
                    restrictions=restrictions_of(found, account_id),
                )
                w_decision = decide_withdrawal(withdrawal_check)
                decided_withdrawals.append(
                    DecidedWithdrawal(account_id, withdrawal, w_decision, requested_at)
                )
                _emit(outbox, emitter, message, w_decision.outcome, withdrawal.withdrawal_id, now)
    await store.record_orders(now, decided_orders)
    await store.record_withdrawals(now, decided_withdrawals)
    await emitter.enqueue(conn, *outbox.messages)
    if post_trade:
        await after_orders(conn, emitter, post_trade)


def _price_symbols(request: Request) -> list[str]:
    """The symbols one decision prices with (what it would have loaded alone)."""
    if isinstance(request, PlaceOrder):
        order = request.order
        return [order.symbol, f"{order.quote}/{VALUATION_QUOTE}"]
    return [f"{request.withdrawal.asset}/{VALUATION_QUOTE}"]


def _emit(
    outbox: Outbox,
    emitter: Emitter,
    cause: Envelope,
    outcome: Outcome,
    correlation_id: str,
    now: datetime,
) -> None:
    """One decision per order or withdrawal: its event id is derived from the id it decides.
    A request held for suspicious activity is flagged too, in the same outbox statement. Runs
    in `cause`'s trace: the messages carry it on."""

    def add(payload: Outcome | SuspiciousActivityFlagged, kind: str) -> None:
        outbox.messages.append(
            emitter.message(
                payload,
                account_id=cause.account_id,
                correlation_id=correlation_id,
                cause=cause,
                now=now,
                event_id=derived_id(kind, correlation_id),
            )
        )

    flag = flag_for(outcome)
    add(outcome, "safety.decision")
    if flag is not None:
        add(flag, "safety.flag")
        log.warning("%s %s held by rule %s", flag.request_kind, flag.request_id, flag.rule)
    reason = getattr(outcome, "reason", None)
    metrics.DECISIONS.labels(_snake_case(outcome.TYPE), str(reason or "")).inc()


def _snake_case(name: str) -> str:
    """`OrderRejected` → `order_rejected`: the metric's decision label."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
