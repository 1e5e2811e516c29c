"""Composition root: wire safety's handlers to its topics. Tests pass their own clock."""

from __future__ import annotations

import dataclasses

from services.safety.handlers import SafetyHandlers
from services.safety.settings import SafetySettings
from shared.clock import Clock, utc_now
from shared.contracts.access import acts_on, readable_by
from shared.service import ServiceRuntime


async def build(runtime: ServiceRuntime[SafetySettings], clock: Clock = utc_now) -> None:
    settings = runtime.settings
    handlers = SafetyHandlers(settings.limits(), dataclasses.replace(runtime.emitter, clock=clock))
    runtime.consume_batches(readable_by("safety"), handlers.handle_batch, acts_on=acts_on("safety"))
