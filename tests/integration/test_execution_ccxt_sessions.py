"""Every ccxt client execution opens is closed: after a key check that ends it, and at shutdown
(aiohttp reports a session never closed as "Unclosed client session" in the service's log)."""

from __future__ import annotations

import gc
import logging
import warnings

import pytest

from services.execution.app import ccxt_opener
from services.execution.venues.base import RemoteVenue
from services.execution.venues.ccxt_venue import CcxtVenue
from shared.contracts.execution import ExchangeKeyValidated
from tests.support import execution_service as support
from tests.support.execution_service import Execution

pytestmark = pytest.mark.integration
execution = support.execution  # the fixture


def unclosed(caplog: pytest.LogCaptureFixture, warned: list[warnings.WarningMessage]) -> list[str]:
    """What aiohttp reported about sessions or connectors nobody closed (after a collection)."""
    gc.collect()
    logged = [r.getMessage() for r in caplog.records if "unclosed" in r.getMessage().lower()]
    return logged + [str(w.message) for w in warned if issubclass(w.category, ResourceWarning)]


async def test_key_checks_leave_no_ccxt_session_open_and_shutdown_closes_the_rest(
    execution: Execution, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    good, bad, unknown = (execution.new_account() for _ in range(3))
    opened: dict[str, RemoteVenue] = {}  # by API key
    open_venue = ccxt_opener(execution.settings)

    def recording_opener(exchange: str, credentials: dict[str, str]) -> RemoteVenue:
        opened[credentials["apiKey"]] = open_venue(exchange, credentials)
        return opened[credentials["apiKey"]]

    def closed() -> dict[str, bool]:
        return {k: isinstance(c, CcxtVenue) and c.closed for k, c in opened.items()}

    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always", ResourceWarning)
        async with execution.running(opener=recording_opener):
            keys = [
                await execution.add_key(good),
                await execution.add_key(bad, secret="not-" + bad.secret),
                await execution.add_key(unknown, exchange="nosuchexchange"),
            ]
            verdicts = [
                (await execution.wait_for_type(key, "ExchangeKeyValidated"))[0].body(
                    ExchangeKeyValidated
                )
                for key in keys
            ]
            assert [v.valid for v in verdicts] == [True, False, False]
            assert "nosuchexchange" in verdicts[2].detail
            assert unclosed(caplog, warned) == []
            # the refused key's client is closed at once; the working key's is kept for use
            assert closed() == {good.api_key: False, bad.api_key: True}

        assert closed() == {good.api_key: True, bad.api_key: True}
        assert unclosed(caplog, warned) == []
