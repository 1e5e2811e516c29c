"""The ledger's composition root: one consumer over the topics that move money."""

from __future__ import annotations

from pathlib import Path

from services.ledger.domain import LedgerPolicy
from services.ledger.domain.reconcile import ReconcilePolicy
from services.ledger.handlers import make_handler
from services.ledger.settings import LedgerSettings
from shared.contracts.topics import Topic
from shared.service import ServiceRuntime

NAME = "ledger"
MIGRATIONS = Path(__file__).parent / "migrations"
TOPICS = [Topic.WALLET_COMMANDS, Topic.SAFETY_DECISIONS, Topic.EXECUTION_EVENTS]


def policy_from(settings: object) -> LedgerPolicy:
    if isinstance(settings, LedgerSettings):
        return LedgerPolicy(max_fee_rate=settings.max_fee_rate)
    return LedgerPolicy()


def reconcile_policy_from(settings: object) -> ReconcilePolicy:
    if isinstance(settings, LedgerSettings):
        return ReconcilePolicy(
            tolerance=settings.reconcile_tolerance,
            confirmations=settings.reconcile_confirmations,
            surplus_counts=settings.reconcile_surplus,
        )
    return ReconcilePolicy()


async def build(runtime: ServiceRuntime) -> None:
    handler = make_handler(policy_from(runtime.settings), reconcile_policy_from(runtime.settings))
    runtime.consume([t.value for t in TOPICS], handler)
