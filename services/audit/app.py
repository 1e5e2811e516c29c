"""Composition root: consume every topic (dead-letter ones too) into the trail; publish each
row's place in the chain; checkpoint it."""

from __future__ import annotations

from services.audit.checkpoints import CheckpointTask
from services.audit.errors import AuditError
from services.audit.handlers import append_to_trail
from services.audit.links import ChainLinksTask
from services.audit.settings import AuditSettings
from shared.contracts import all_topics
from shared.service import ServiceRuntime


async def build(runtime: ServiceRuntime) -> None:
    settings = runtime.settings
    if not isinstance(settings, AuditSettings):
        raise AuditError("the audit service runs with AuditSettings")
    database = f"{settings.db_prefix}_{runtime.name}"
    runtime.consume_batches(
        all_topics(), append_to_trail, fetch_max_wait_ms=settings.audit_fetch_max_wait_ms
    )
    runtime.background(
        ChainLinksTask(
            runtime.pool, database=database, poll_seconds=settings.audit_links_poll_seconds
        ).run
    )
    runtime.background(
        CheckpointTask(
            runtime.pool,
            database=database,
            file=settings.audit_checkpoint_file,
            every=settings.audit_checkpoint_every,
            seconds=settings.audit_checkpoint_seconds,
            poll_seconds=settings.audit_checkpoint_poll_seconds,
        ).run
    )
