"""The gateway (same composition root as production) on an event loop of its own thread.

Synchronous tests (schemathesis drives `requests` from Hypothesis) cannot yield to
the pytest-asyncio loop, so a gateway served on that loop would never answer
them. Here the gateway, its pool, relay and consumer live on a private loop;
`run(coroutine)` executes a coroutine there (register a user, read the database).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, TypeVar

from shared.infra.resolve import Infrastructure
from tests.support.gateway_service import Gateway, running_gateway

T = TypeVar("T")
STEP_TIMEOUT_SECONDS = 90.0


class GatewayThread:
    def __init__(self, infra: Infrastructure, **overrides: Any) -> None:
        self._infra = infra
        self._overrides = overrides
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="gateway-loop", daemon=True
        )
        self._running: AbstractAsyncContextManager[Gateway] | None = None
        self.gateway: Gateway | None = None

    @property
    def base_url(self) -> str:
        assert self.gateway is not None
        settings = self.gateway.settings
        return f"http://{settings.gateway_host}:{settings.gateway_port}"

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the gateway's loop and wait for its result."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout=STEP_TIMEOUT_SECONDS)

    def __enter__(self) -> GatewayThread:
        self._thread.start()
        self._running = running_gateway(self._infra, **self._overrides)
        try:
            self.gateway = self.run(self._running.__aenter__())
        except BaseException:
            self._stop_loop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if self._running is not None:
                self.run(self._running.__aexit__(kind, error, traceback))
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()
