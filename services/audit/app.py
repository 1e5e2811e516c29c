"""Composition root: consume every topic (dead-letter ones too) into the trail; publish each
row's place in the chain; checkpoint it."""

from __future__ import annotations

from services.audit.checkpoints import CheckpointTask
from services.audit.handlers import append_to_trail
from services.audit.links import ChainLinksTask
from services.audit.settings import AuditSettings
from shared.contracts.access import acts_on, readable_by
from shared.service import ServiceRuntime


async def build(runtime: ServiceRuntime[AuditSettings]) -> None:
    settings = runtime.settings
    database = f"{settings.db_prefix}_{runtime.name}"
    runtime.consume_batches(
        readable_by(runtime.name),
        append_to_trail,
        acts_on=acts_on(runtime.name),
        fetch_max_wait_ms=settings.audit_fetch_max_wait_ms,
    )
    runtime.background(
        ChainLinksTask(
            runtime.pool,
            runtime.emitter,
            database=database,
            poll_seconds=settings.audit_links_poll_seconds,
        ).run
    )
    runtime.background(
        CheckpointTask(
            runtime.pool,
            runtime.emitter,
            database=database,
            file=settings.audit_checkpoint_file,
            every=settings.audit_checkpoint_every,
            seconds=settings.audit_checkpoint_seconds,
            poll_seconds=settings.audit_checkpoint_poll_seconds,
        ).run
    )
