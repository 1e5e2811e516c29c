"""Each consumer's declared types (`shared.contracts.access.ACTS_ON`) cover what its handler does:
a message of any other type, handed to the handler, touches nothing (so the inbox may skip it
undecoded)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from services.execution import handlers as execution
from services.ledger import handlers as ledger
from services.ledger.domain import LedgerPolicy
from services.safety import handlers as safety
from services.safety.settings import SafetySettings
from shared.clock import utc_now
from shared.contracts import Envelope, registered
from shared.contracts.access import ACTS_ON, CONSUMES
from shared.contracts.envelope import Payload
from shared.emitter import Emitter

Handle = Callable[[Any, Envelope], Awaitable[None]]


class Untouchable:
    """A connection a handler must not use."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the handler used the database ({name})")


def handlers() -> dict[str, Handle]:
    return {
        "safety": lambda conn, message: safety.SafetyHandlers(
            SafetySettings().limits(), Emitter("safety")
        ).handle_batch(conn, [message]),
        "ledger": ledger.make_handler(LedgerPolicy(), emitter=Emitter("ledger")),
        "execution": execution.ExecutionHandler(
            venue_for=lambda conn, name: None, emitter=Emitter("execution")
        ),
    }


def message_of(kind: type[Payload]) -> Envelope:
    return Envelope.model_construct(
        event_id=uuid.uuid4(),
        type=kind.TYPE,
        version=kind.VERSION,
        occurred_at=utc_now(),
        producer="test",
        account_id="a-1",
        correlation_id="c-1",
        causation_id=None,
        payload=kind.model_construct(),
    )


@pytest.mark.parametrize("service", ["safety", "ledger", "execution"])
async def test_a_type_outside_acts_on_is_ignored_by_the_handler(service: str) -> None:
    handle, acts_on = handlers()[service], ACTS_ON[service] or ()
    read = set(CONSUMES[service])
    ignored = [kind for kind in registered().values() if kind.TOPIC in read and kind not in acts_on]
    assert ignored  # every one of these consumers reads types it ignores
    for kind in ignored:
        await handle(Untouchable(), message_of(kind))


@pytest.mark.parametrize("service", ["safety", "ledger", "execution"])
def test_every_declared_type_is_on_a_topic_the_service_reads(service: str) -> None:
    assert {kind.TOPIC for kind in ACTS_ON[service] or ()} <= set(CONSUMES[service])


def test_only_the_gateway_and_the_audit_act_on_every_type() -> None:
    assert {service for service, kinds in ACTS_ON.items() if kinds is None} == {"gateway", "audit"}
    assert set(ACTS_ON) == set(CONSUMES)
