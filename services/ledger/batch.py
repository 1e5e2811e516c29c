"""The ledger's batch handler: a consumed batch decided in memory, in message order, with one
read and one write per table.

Every account, hold, entry key and deposit the batch's decisions read is loaded (and locked)
up front with one query per table; each message is decided by the pure domain unchanged,
against a view that carries what the earlier messages of the batch did; then every effect
is written with one multi-row statement per table and one outbox insert. A user bucket that
one message would take below zero raises `NegativeUserBalance` before anything is written:
the inbox then redoes the batch one message at a time (`shared.inbox_apply`), where the
one-message handler (`services.ledger.handlers`) refuses that message alone. A batch of one
goes through the one-message handler.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from services.ledger import store_batch, store_book
from services.ledger.domain import (
    ZERO,
    AccountKey,
    Bucket,
    LedgerPolicy,
    Needs,
    Outcome,
    View,
    decide,
    needs,
    net_changes,
    touched_user_assets,
)
from services.ledger.domain.accounts import WORLD_OWNER
from services.ledger.domain.reconcile import ReconcilePolicy
from services.ledger.errors import NegativeUserBalance
from services.ledger.handlers import correlation_of, count_decisions, make_handler
from services.ledger.store_batch import Loaded
from shared.contracts.envelope import Envelope, Payload
from shared.contracts.execution import VenueBalancesReported
from shared.contracts.ledger import BalanceChanged, DepositCredited, DepositRejected
from shared.db import Connection
from shared.emitter import Emitter
from shared.inbox import BatchHandler
from shared.money import exact


@dataclass(frozen=True)
class Decided:
    message: Envelope
    need: Needs
    outcome: Outcome
    events: list[Payload] = field(default_factory=list)
    """The outcome's events followed by one `BalanceChanged` per user asset it moved."""


def make_batch_handler(
    policy: LedgerPolicy, reconciling: ReconcilePolicy | None = None, *, emitter: Emitter
) -> BatchHandler:
    """The batch handler for every topic the ledger consumes (see the module's docstring)."""
    one = make_handler(policy, reconciling, emitter=emitter)

    async def handle(conn: Connection, messages: Sequence[Envelope]) -> None:
        if len(messages) == 1:
            await one(conn, messages[0])
            return
        run: list[tuple[Envelope, Needs]] = []
        for message in messages:
            if isinstance(message.payload, VenueBalancesReported):  # reads the books: after
                await _apply_run(conn, run, policy, emitter)  # what came before it
                run = []
                await one(conn, message)
                continue
            need = needs(message.payload)
            if need is not None:
                run.append((message, need))
        await _apply_run(conn, run, policy, emitter)

    return handle


async def _apply_run(
    conn: Connection,
    run: Sequence[tuple[Envelope, Needs]],
    policy: LedgerPolicy,
    emitter: Emitter,
) -> None:
    if not run:
        return
    loaded = await store_batch.load(conn, [(m.account_id, need) for m, need in run])
    with exact():
        outcomes = [Decided(m, need, _decide(loaded, m, need, policy)) for m, need in run]
        decided = await _with_balance_changes(conn, outcomes)
    await store_book.book(conn, [(d.message, d.outcome) for d in decided])
    envelopes = []
    for d in decided:
        count_decisions(d.outcome.events)
        at = emitter.clock()
        correlation_id = correlation_of(d.message, d.need)
        envelopes += [
            emitter.message(
                event,
                account_id=d.message.account_id,
                correlation_id=correlation_id,
                cause=d.message,
                now=at,
            )
            for event in d.events
        ]
    if envelopes:
        await emitter.enqueue(conn, *envelopes)


def _decide(loaded: Loaded, message: Envelope, need: Needs, policy: LedgerPolicy) -> Outcome:
    """Decide one message against the loaded state, then carry its effects into that state
    for the messages after it."""
    owner = message.account_id
    view = View(
        hold=loaded.holds.get(need.hold_id) if need.hold_id is not None else None,
        available={
            a: loaded.available[owner, a] for a in need.assets if (owner, a) in loaded.available
        },
        already_booked=need.entry_key is not None and need.entry_key in loaded.booked,
        world=loaded.world.get(need.world_asset, ZERO) if need.world_asset else ZERO,
        deposit_decided=need.deposit_id is not None and need.deposit_id in loaded.deposits,
    )
    outcome = decide(owner, message.payload, view, policy)
    for account, delta in net_changes(outcome.entries).items():
        if account.bucket is Bucket.AVAILABLE:
            key = (account.owner, account.asset)
            loaded.available[key] = loaded.available.get(key, ZERO) + delta
        elif account.bucket is Bucket.WORLD and account.owner == WORLD_OWNER:
            loaded.world[account.asset] = loaded.world.get(account.asset, ZERO) + delta
    loaded.booked.update(e.key for e in outcome.entries)
    if outcome.hold is not None:
        loaded.holds[outcome.hold.hold_id] = outcome.hold
    loaded.deposits.update(
        e.deposit_id for e in outcome.events if isinstance(e, DepositCredited | DepositRejected)
    )
    return outcome


async def _with_balance_changes(conn: Connection, outcomes: list[Decided]) -> list[Decided]:
    """Each outcome with its events and the `BalanceChanged` of every user asset it moved
    (available, held and version after it); refuses a batch in which any message would take
    a user bucket below zero."""
    changes = [net_changes(d.outcome.entries) for d in outcomes]
    touched = [touched_user_assets(d.outcome.entries, d.message.account_id) for d in outcomes]
    versioned = sorted(
        {
            (d.message.account_id, a)
            for d, assets in zip(outcomes, touched, strict=True)
            for a in assets
        }
    )
    pairs = sorted({*versioned, *((a.owner, a.asset) for c in changes for a in c if a.is_user)})
    amounts, versions = await store_batch.user_balances(conn, pairs, versioned)
    decided = []
    for d, change, assets in zip(outcomes, changes, touched, strict=True):
        for account, delta in change.items():
            if account.is_user:
                amounts[account] = after = amounts.get(account, ZERO) + delta
                if after < 0:
                    raise NegativeUserBalance(f"refused: a change would overdraw {account}")
        owner = d.message.account_id
        changed = []
        for asset in assets:
            versions[owner, asset] = version = versions.get((owner, asset), 0) + 1
            changed.append(
                BalanceChanged(
                    asset=asset,
                    available=_amount(amounts, owner, asset, Bucket.AVAILABLE),
                    held=_amount(amounts, owner, asset, Bucket.HELD),
                    version=version,
                )
            )
        decided.append(Decided(d.message, d.need, d.outcome, [*d.outcome.events, *changed]))
    await store_batch.save_versions(conn, versions)
    return decided


def _amount(amounts: dict[AccountKey, Decimal], owner: str, asset: str, bucket: Bucket) -> Decimal:
    return amounts.get(AccountKey(owner, asset, bucket), ZERO)
