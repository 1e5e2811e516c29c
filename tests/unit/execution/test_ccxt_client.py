"""How execution configures ccxt's own client (no request is made)."""

from __future__ import annotations

import logging

import aiohttp

from services.execution.venues.ccxt_client import (
    QUIET_LOG,
    RequestLog,
    create_exchange,
    is_ccxt_exchange,
    override_urls,
)


def test_overriding_urls_keeps_each_path_and_replaces_the_host() -> None:
    urls = {
        "public": "https://api.binance.com/api/v3",
        "sapi": {"v1": "https://api.binance.com/sapi/v1"},
    }
    assert override_urls(urls, "http://127.0.0.1:9011/") == {
        "public": "http://127.0.0.1:9011/api/v3",
        "sapi": {"v1": "http://127.0.0.1:9011/sapi/v1"},
    }


async def test_the_binance_client_never_retries_is_rate_limited_and_speaks_decimal_strings() -> (
    None
):
    async with aiohttp.ClientSession() as session:
        exchange = create_exchange(
            "binance",
            {"apiKey": "k", "secret": "s", "unexpected": "x"},
            timeout_ms=1500,
            session=session,
            base_url="http://127.0.0.1:9011",
        )
        try:
            assert exchange.options["maxRetriesOnFailure"] == 0  # a retried POST = a 2nd order
            assert exchange.enableRateLimit is True
            assert exchange.number is str  # amounts as decimal strings, never floats
            assert exchange.timeout == 1500
            assert exchange.options["fetchMarkets"]["types"] == ["spot"]
            assert exchange.options["defaultType"] == "spot"
            assert exchange.urls["api"]["private"] == "http://127.0.0.1:9011/api/v3"
            assert exchange.urls["api"]["sapi"] == "http://127.0.0.1:9011/sapi/v1"
            assert (exchange.apiKey, exchange.secret) == ("k", "s")
            assert exchange.session is session
        finally:
            await exchange.close()


def test_ccxt_request_logging_with_the_api_key_header_is_never_at_debug() -> None:
    assert not QUIET_LOG.isEnabledFor(logging.DEBUG)


def test_only_exchanges_ccxt_knows_are_network_venues() -> None:
    assert is_ccxt_exchange("binance")
    assert not is_ccxt_exchange("paper") and not is_ccxt_exchange("nosuchexchange")


def test_a_call_with_no_request_started_has_no_last_request() -> None:
    assert RequestLog().last is None
