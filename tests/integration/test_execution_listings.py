"""Execution tells safety which markets each venue lists (`MarketsListed`): the paper venue's
before its first tick, a network venue's from the venue itself before the key that uses it is
reported valid, and again when it is due."""

from __future__ import annotations

import pytest

from shared.contracts.envelope import Envelope
from shared.contracts.execution import ListedMarket, MarketsListed, PriceTick
from tests.support import execution_service as support
from tests.support.execution_service import Execution
from tests.support.simbinance.wire import SPOT_RULES
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration
execution = support.execution  # the fixture


def listings(messages: list[Envelope], venue: str) -> list[MarketsListed]:
    found = [m.body(MarketsListed) for m in messages if m.type == "MarketsListed"]
    return [listed for listed in found if listed.venue == venue]


async def test_the_paper_listing_comes_before_the_first_paper_tick(execution: Execution) -> None:
    async with execution.running():
        messages = await eventually(
            execution.outbox,
            until=lambda found: any(m.type == "PriceTick" for m in found),
            what="a paper tick",
        )
    first_tick = next(i for i, m in enumerate(messages) if m.type == "PriceTick")
    first_listing = next(i for i, m in enumerate(messages) if m.type == "MarketsListed")
    assert first_listing < first_tick
    (paper,) = listings(messages, "paper")
    ticked = {m.body(PriceTick).symbol for m in messages if m.type == "PriceTick"}
    assert ticked <= {market.symbol for market in paper.markets}


async def test_a_venues_markets_are_listed_before_its_first_valid_key(
    execution: Execution,
) -> None:
    account = execution.new_account()
    async with execution.running():
        await execution.add_valid_key(account)
        messages = await execution.outbox()
    validated = next(i for i, m in enumerate(messages) if m.type == "ExchangeKeyValidated")
    binance = [i for i, m in enumerate(messages) if m.type == "MarketsListed"][-1]
    assert binance < validated
    (listed,) = listings(messages, "binance")
    assert (listed.part, listed.parts) == (1, 1)
    assert listed.markets == [ListedMarket(symbol="BTC/USDT", **SPOT_RULES)]


async def test_a_venues_listing_is_refreshed_when_due(execution: Execution) -> None:
    execution.settings = execution.settings.model_copy(
        update={"exchange_markets_refresh_seconds": 1}
    )
    account = execution.new_account()
    async with execution.running():
        await execution.add_valid_key(account)
        refreshed = await eventually(
            execution.outbox,
            until=lambda found: len(listings(found, "binance")) >= 2,
            what="the binance listing published again",
        )
    first, second = listings(refreshed, "binance")[:2]
    assert second.listed_at > first.listed_at
    assert second.markets == first.markets
