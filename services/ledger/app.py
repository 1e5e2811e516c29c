"""The ledger's composition root: one consumer over the topics that move money, a batch at
a time (`services.ledger.batch`)."""

from __future__ import annotations

from pathlib import Path

from services.ledger.batch import make_batch_handler
from services.ledger.domain import LedgerPolicy
from services.ledger.domain.reconcile import ReconcilePolicy
from services.ledger.settings import LedgerSettings
from shared.contracts.access import acts_on, readable_by
from shared.service import ServiceRuntime

NAME = "ledger"
MIGRATIONS = Path(__file__).parent / "migrations"


def policy_from(settings: LedgerSettings) -> LedgerPolicy:
    return LedgerPolicy(max_fee_rate=settings.max_fee_rate)


def reconcile_policy_from(settings: LedgerSettings) -> ReconcilePolicy:
    return ReconcilePolicy(
        tolerance=settings.reconcile_tolerance,
        confirmations=settings.reconcile_confirmations,
        surplus_counts=settings.reconcile_surplus,
    )


async def build(runtime: ServiceRuntime[LedgerSettings]) -> None:
    handler = make_batch_handler(
        policy_from(runtime.settings),
        reconcile_policy_from(runtime.settings),
        emitter=runtime.emitter,
    )
    runtime.consume_batches(readable_by(NAME), handler, acts_on=acts_on(NAME))
