"""Balances at a (simulated) Binance through ccxt's real client: each account with a validated
key reports what the venue says it holds; a fetch that fails reports nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.execution.remote.balances import report_id
from shared.contracts.execution import VenueBalancesReported
from tests.support import execution_service as support
from tests.support.execution_service import Execution
from tests.support.simbinance import Fault
from tests.support.simbinance.faults import FaultKind
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration
execution = support.execution  # the fixture
ACCOUNT_PATH = "/api/v3/account"


def reporting(execution: Execution) -> None:
    execution.settings = execution.settings.model_copy(
        update={"venue_balance_interval_seconds": 0.3}
    )


async def test_an_account_with_a_valid_key_reports_its_venue_totals(execution: Execution) -> None:
    reporting(execution)
    account = execution.new_account(usdt="1000")
    execution.sim.book.accounts[account.api_key].balances["ETH"] = Decimal("0")

    async with execution.running():
        await execution.add_valid_key(account)
        (first, *_) = await execution.wait_for_type(
            report_id("binance", account.user), "VenueBalancesReported"
        )

    assert first.account_id == account.user
    report = first.body(VenueBalancesReported)
    assert report.venue == "binance"
    assert report.balances == {"BTC": Decimal("10"), "USDT": Decimal("1000")}  # ETH 0: left out


async def test_a_balance_fetch_that_fails_reports_nothing(execution: Execution) -> None:
    reporting(execution)
    account = execution.new_account(usdt="1000")
    correlation = report_id("binance", account.user)

    async with execution.running():
        await execution.add_valid_key(account)
        await execution.wait_for_type(correlation, "VenueBalancesReported")
        fault = Fault(FaultKind.SERVER_ERROR, method="GET", path=ACCOUNT_PATH, times=3)
        execution.sim.inject(fault)
        await eventually(lambda: _left(fault), until=lambda left: left == 0, what="3 failures")
        await eventually(
            lambda: _statuses(execution),
            until=lambda found: found[-1] == 200,
            what="a fetch answered after the failures",
        )
    # stopped: every pass finished, so each answered fetch has been reported or never will be
    statuses = await _statuses(execution)
    reports = await execution.events_of(correlation)
    assert statuses.count(503) == 3
    assert len(reports) == statuses.count(200) - 1  # the key's own check reports nothing
    assert all(r.body(VenueBalancesReported).balances["USDT"] == Decimal("1000") for r in reports)


async def _left(fault: Fault) -> int:
    return fault.times


async def _statuses(execution: Execution) -> list[int | None]:
    return [seen.status for seen in execution.sim.requests_to("GET", ACCOUNT_PATH)]
