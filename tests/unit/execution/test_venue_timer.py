"""The venue's own dead man's timer (ccxt `cancelAllAfter`): asked only where the exchange has
one. No network: the ccxt client's call is replaced."""

from __future__ import annotations

from typing import Any

from services.execution.venues.ccxt_venue import CcxtVenue

CREDENTIALS = {"apiKey": "k", "secret": "s"}


async def test_an_exchange_without_its_own_timer_is_not_asked() -> None:
    venue = CcxtVenue("binance", CREDENTIALS, timeout_ms=1000, base_url="http://127.0.0.1:9")
    try:
        assert await venue.cancel_all_after(5000) is False
    finally:
        await venue.close()


async def test_an_exchange_with_its_own_timer_gets_the_milliseconds_left() -> None:
    venue = CcxtVenue("binance", CREDENTIALS, timeout_ms=1000, base_url="http://127.0.0.1:9")
    asked: list[int] = []

    async def cancel_all_after(timeout: int, params: Any = None) -> dict[str, Any]:
        asked.append(timeout)
        return {}

    exchange: Any = venue._exchange
    exchange.has = {**exchange.has, "cancelAllAfter": True}
    exchange.markets = {}  # loaded: nothing else is asked
    exchange.cancel_all_after = cancel_all_after
    try:
        assert await venue.cancel_all_after(5000) is True
    finally:
        await venue.close()
    assert asked == [5000]
