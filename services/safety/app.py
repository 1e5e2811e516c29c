"""Composition root: wire safety's handlers to its topics. Tests pass their own clock."""

from __future__ import annotations

from services.safety.errors import SafetyError
from services.safety.handlers import SafetyHandlers
from services.safety.settings import SafetySettings
from shared.clock import Clock, utc_now
from shared.contracts.topics import Topic
from shared.service import ServiceRuntime

CONSUMED_TOPICS = (
    Topic.ORDER_COMMANDS,
    Topic.WALLET_COMMANDS,
    Topic.MARKET_PRICES,
    Topic.EXECUTION_EVENTS,
    Topic.ACCOUNT_EVENTS,
    Topic.LEDGER_EVENTS,
)


async def build(runtime: ServiceRuntime, clock: Clock = utc_now) -> None:
    settings = runtime.settings
    if not isinstance(settings, SafetySettings):
        raise SafetyError("safety needs SafetySettings")
    handlers = SafetyHandlers(settings.limits(), clock)
    runtime.consume([topic.value for topic in CONSUMED_TOPICS], handlers.handle)
