"""The ledger's one handler: load and lock, decide, book, emit, all in the inbox's transaction."""

from __future__ import annotations

from services.ledger import store, store_book
from services.ledger.domain import LedgerPolicy, Needs, decide, needs, touched_user_assets
from services.ledger.domain.reconcile import ReconcilePolicy
from services.ledger.venue_check import reconcile
from shared import metrics
from shared.contracts.envelope import Envelope, Payload
from shared.contracts.execution import VenueBalancesReported
from shared.contracts.ledger import FundsHeld, FundsHoldRejected
from shared.contracts.wallet import RecordDeposit
from shared.db import Connection
from shared.emitter import Emitter
from shared.inbox import Handler


def make_handler(
    policy: LedgerPolicy, reconciling: ReconcilePolicy | None = None, *, emitter: Emitter
) -> Handler:
    """The handler for every topic the ledger consumes; other message types are ignored.
    Its events are stamped by `emitter`'s clock when they are written."""
    reconcile_policy = reconciling or ReconcilePolicy()

    async def handle(conn: Connection, message: Envelope) -> None:
        if isinstance(message.payload, VenueBalancesReported):
            await reconcile(conn, emitter, message, reconcile_policy)  # books nothing
            return
        need = needs(message.payload)
        if need is None:
            return
        owner = message.account_id
        view = await store.load_view(conn, owner, need)
        outcome = decide(owner, message.payload, view, policy)
        await store_book.book(conn, [(message, outcome)])
        changed = await store.balance_changes(
            conn, owner, touched_user_assets(outcome.entries, owner)
        )
        events = [*outcome.events, *changed]
        count_decisions(outcome.events)
        if events:
            await emitter.emit_all(
                conn,
                events,
                account_id=owner,
                correlation_id=correlation_of(message, need),
                cause=message,
            )

    return handle


def correlation_of(message: Envelope, need: Needs | None) -> str:
    """The correlation id of what the ledger emits for `message`: the hold's (the order's or
    the withdrawal's id), a recorded deposit's id, else the message's own."""
    if isinstance(message.payload, RecordDeposit):
        return message.payload.deposit_id
    return (need.hold_id if need is not None else None) or message.correlation_id


def count_decisions(events: tuple[Payload, ...]) -> None:
    for event in events:
        if isinstance(event, FundsHeld):
            metrics.DECISIONS.labels("funds_held", "").inc()
        elif isinstance(event, FundsHoldRejected):
            metrics.DECISIONS.labels("funds_hold_rejected", event.reason.value).inc()
