"""Composition root: the FastAPI app (`create_app`) and the gateway process (`build`).

One process serves HTTP (uvicorn, as a runtime background task that ends when
the stop event is set), runs the outbox relay, the read-model consumer and the
purge of expired idempotency keys and old failed attempts.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import asyncpg
import uvicorn
import uvloop
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from services.gateway import NAME, console, idempotency, problems, ratelimit
from services.gateway.api import (
    admin,
    admin_audit,
    admin_dead_letters,
    admin_orders,
    admin_system,
    audit,
    audit_export,
    auth,
    balances,
    exchange_keys,
    health,
    orders,
    session,
    withdrawals,
)
from services.gateway.auth import TokenIssuer
from services.gateway.context import BrokerProbe, GatewayContext
from services.gateway.encryption import SecretBox
from services.gateway.metrics import GatewayMetrics
from services.gateway.middleware import BodySizeLimit, NoStore, RequestMetrics
from services.gateway.readmodels import ReadModels
from services.gateway.readmodels_batch import BatchedReadModels
from services.gateway.settings import GatewaySettings
from services.gateway.store import accounts, cancels
from shared.clock import utc_now
from shared.contracts.access import acts_on, readable_by
from shared.db import ConnectionPool
from shared.emitter import Emitter
from shared.service import ServiceRuntime

log = logging.getLogger(__name__)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """The gateway's event loop: uvloop. Its scheduler and socket transports are C, where
    asyncio's are Python: on a loop that runs every HTTP request, the outbox relay and the
    read models, that is CPU per order saved (docs/decisions.md, "Gateway CPU per order")."""
    return uvloop.new_event_loop()


def create_app(
    pool: ConnectionPool,
    settings: GatewaySettings,
    *,
    broker_ready: BrokerProbe,
    metrics: GatewayMetrics | None = None,
    emitter: Emitter | None = None,
) -> FastAPI:
    """The HTTP API over `pool` (the gateway database, migrated). Refuses weak secrets.
    `emitter`: the gateway's messages and clock (tests pass their own clock in it)."""
    settings.check_secrets()
    key = settings.encryption_key_bytes()
    context = GatewayContext(
        pool=pool,
        settings=settings,
        tokens=TokenIssuer(settings.jwt_secret.get_secret_value(), settings.jwt_ttl_seconds),
        secret_box=SecretBox(key) if key is not None else None,
        broker_ready=broker_ready,
        emitter=emitter or Emitter(NAME),
        metrics=metrics or GatewayMetrics(),
    )
    if context.secret_box is None:
        log.warning("no CRYPTOORCH_ENCRYPTION_KEY: 2FA and exchange keys are unavailable")
    app = FastAPI(
        title="cryptoorch gateway",
        version="1.0.0",
        description="Orders, withdrawals and balances; errors are application/problem+json.",
        # One server span per request (it continues the caller's `traceparent` and parents the
        # outbox span, so the order's trace goes on through Kafka). FastAPI's extra spans per
        # dependency, endpoint and serialization cost CPU on every request and tell nothing
        # the server span does not.
        telemetry={"operation_spans": False},
    )
    app.state.gateway = context
    problems.install(app)
    app.include_router(health.router)
    answered = problems.documented_problems(400, 401, 403, 404, 409, 413, 422, 429, 503)
    routers = (
        auth,
        orders,
        withdrawals,
        balances,
        exchange_keys,
        audit,
        admin,
        audit_export,
        admin_audit,
        session,
        admin_orders,
        admin_system,
        admin_dead_letters,
    )
    for module in routers:
        app.include_router(module.router, responses=answered)
    console.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestMetrics)
    app.add_middleware(NoStore, prefix="/v1")
    if settings.trusted_proxies():
        # Outermost: every part of the app sees the client's address, not the proxy's.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies())
    return app


def kafka_probe(producer: Callable[[], AIOKafkaProducer]) -> BrokerProbe:
    """Readiness of the broker: a metadata request through the relay's producer (the one it
    uses now: it replaces one that stopped) answers."""

    async def probe() -> bool:
        await producer().client.fetch_all_metadata()
        return True

    return probe


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the service runtime owns SIGINT/SIGTERM and sets the stop event


async def serve(app: FastAPI, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve `app` until `stop` is set; a server that ends on its own is an error."""
    # proxy_headers=False: uvicorn's default believes `X-Forwarded-For` from 127.0.0.1 (or
    # $FORWARDED_ALLOW_IPS); the app believes it only from CRYPTOORCH_GATEWAY_TRUSTED_PROXIES.
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, proxy_headers=False
    )
    server = _EmbeddedServer(config)
    serving = asyncio.create_task(server.serve())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait([serving, stopping], return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopping.cancel()
    await serving
    if not stop.is_set():
        raise RuntimeError(f"the HTTP server on {host}:{port} stopped")


async def purge_expired(pool: asyncpg.Pool, settings: GatewaySettings, now: datetime) -> None:
    """Forget idempotency keys past retention and failed attempts past their window."""
    async with pool.acquire() as conn:
        retention = timedelta(hours=settings.idempotency_retention_hours)
        keys = await idempotency.purge(conn, now - retention)
        window = timedelta(seconds=settings.login_failure_window_seconds)
        failures = await accounts.purge_failures(conn, now - window)
        await cancels.purge(conn, now - ratelimit.CANCEL_WINDOW)
    if keys or failures:
        log.info("purged %d idempotency keys and %d failed attempts", keys, failures)


async def build(
    runtime: ServiceRuntime[GatewaySettings], clock: Callable[[], datetime] = utc_now
) -> None:
    """Wire the gateway: HTTP API, read models, purge. Tests pass their own clock (requests)."""
    settings = runtime.settings
    metrics = GatewayMetrics()
    app = create_app(
        runtime.pool,
        settings,
        broker_ready=kafka_probe(lambda: runtime.producer),
        metrics=metrics,
        emitter=dataclasses.replace(runtime.emitter, clock=clock),
    )
    read_models = BatchedReadModels(ReadModels(metrics, utc_now))
    runtime.consume_batches(
        readable_by(runtime.name), read_models.handle, acts_on=acts_on(runtime.name)
    )

    async def http(stop: asyncio.Event) -> None:
        await serve(app, settings.gateway_host, settings.gateway_port, stop)

    async def purge(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await purge_expired(runtime.pool, settings, utc_now())
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("purge failed (%s); next try later", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=settings.purge_interval_seconds)

    runtime.background(http)
    runtime.background(purge)
