"""Building one ccxt client for one user's key, and watching what it sends and gets back.

The client is ccxt's own, unmodified exchange class. We give it: the user's credentials,
`enableRateLimit`, ccxt's retry-on-failure explicitly at zero (a retried POST could place a
second order), decimal strings instead of floats (`number = str`), spot markets only, a quiet
logger (ccxt's debug lines carry the API-key header), optional base-URL overrides (tests point
it at a simulated exchange), and an aiohttp session whose trace hooks record, per request,
whether it was sent and which HTTP status came back: the facts outcome classification needs.
"""

from __future__ import annotations

import importlib
import logging
import ssl
from dataclasses import dataclass, field
from types import ModuleType, SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import certifi

QUIET_LOG = logging.getLogger("services.execution.ccxt_wire")
QUIET_LOG.setLevel(logging.WARNING)
"""ccxt logs whole requests (with the `X-MBX-APIKEY` header) at debug level: never let it."""

SPOT_ONLY_OPTIONS: dict[str, Any] = {
    "defaultType": "spot",
    "maxRetriesOnFailure": 0,
    "maxRetriesOnFailureDelay": 0,
}
EXCHANGE_OPTIONS: dict[str, dict[str, Any]] = {
    # Binance: only the spot market list (no futures/margin endpoints), no margin pairs.
    "binance": {"fetchMarkets": {"types": ["spot"]}, "fetchMargins": False},
}


def ccxt_async() -> ModuleType:
    """`ccxt.async_support`, imported on first use: it loads every exchange (seconds of CPU),
    which a paper-only execution never needs."""
    return importlib.import_module("ccxt.async_support")


def is_ccxt_exchange(name: str) -> bool:
    return name in ccxt_async().exchanges


@dataclass
class SentRequest:
    method: str
    path: str
    http_status: int | None = None
    retry_after: str | None = None


@dataclass
class RequestLog:
    """The requests of the current call (a call is one adapter operation, under its lock)."""

    requests: list[SentRequest] = field(default_factory=list)

    def reset(self) -> None:
        self.requests.clear()

    @property
    def last(self) -> SentRequest | None:
        return self.requests[-1] if self.requests else None


def traced_session(log: RequestLog) -> aiohttp.ClientSession:
    async def on_start(
        session: aiohttp.ClientSession,
        ctx: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        log.requests.append(SentRequest(params.method, params.url.path))

    async def on_end(
        session: aiohttp.ClientSession, ctx: SimpleNamespace, params: aiohttp.TraceRequestEndParams
    ) -> None:
        if log.requests:
            log.requests[-1].http_status = params.response.status
            log.requests[-1].retry_after = params.response.headers.get("Retry-After")

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    trace.on_request_end.append(on_end)
    tls = ssl.create_default_context(cafile=certifi.where())  # the CA bundle ccxt itself uses
    connector = aiohttp.TCPConnector(ssl=tls, enable_cleanup_closed=True)
    return aiohttp.ClientSession(connector=connector, trace_configs=[trace])


def override_urls(api_urls: Any, base_url: str) -> Any:
    """Every API URL with its scheme and host replaced by `base_url`'s (paths are kept)."""
    if isinstance(api_urls, str):
        return base_url.rstrip("/") + urlsplit(api_urls).path
    if isinstance(api_urls, dict):
        return {key: override_urls(value, base_url) for key, value in api_urls.items()}
    return api_urls


def create_exchange(
    exchange_id: str,
    credentials: dict[str, str],
    *,
    timeout_ms: int,
    session: aiohttp.ClientSession | None,
    base_url: str | None,
) -> Any:
    """A ccxt client for `exchange_id` logged in with `credentials` (apiKey, secret, password?).

    It uses `session` and never closes it (the caller does); with None, ccxt opens none of its
    own either: the caller sets `exchange.session` before the first call.
    """
    if not is_ccxt_exchange(exchange_id):
        raise ValueError(f"ccxt knows no exchange {exchange_id!r}")
    exchange_class = getattr(ccxt_async(), exchange_id)
    config: dict[str, Any] = {
        **{k: v for k, v in credentials.items() if k in ("apiKey", "secret", "password", "uid")},
        "enableRateLimit": True,
        "timeout": timeout_ms,
        "session": session,
        "logger": QUIET_LOG,
        "options": {**SPOT_ONLY_OPTIONS, **EXCHANGE_OPTIONS.get(exchange_id, {})},
    }
    exchange = exchange_class(config)
    exchange.number = str  # amounts and prices as decimal strings, never floats
    if base_url:
        exchange.urls["api"] = override_urls(exchange.urls["api"], base_url)
    return exchange
