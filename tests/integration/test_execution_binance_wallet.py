"""Keys, withdrawals and deposits at a (simulated) Binance through ccxt's real client."""

from __future__ import annotations

import asyncio
import logging
import uuid
from decimal import Decimal

import pytest

from services.execution.venues.base import RemoteVenue, WithdrawalReceipt, WithdrawalRequest
from services.execution.venues.ccxt_venue import CcxtVenue, withdrawal_client_id
from shared.contracts.execution import (
    DepositDetected,
    ExchangeKeyValidated,
    WithdrawalFailed,
    WithdrawalSent,
)
from shared.contracts.ledger import FundsHeld, HoldPurpose
from shared.contracts.reasons import RejectReason
from shared.contracts.wallet import WithdrawalSpec
from tests.support import execution_service as support
from tests.support.execution_service import Execution
from tests.support.simbinance import Fault
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration
execution = support.execution  # the fixture
WITHDRAW_PATH = "/sapi/v1/capital/withdraw/apply"


def withdrawal_held(withdrawal_id: str, amount: str = "25") -> FundsHeld:
    spec = WithdrawalSpec(
        withdrawal_id=withdrawal_id,
        asset="USDT",
        amount=Decimal(amount),
        address="0xdeadbeef",
        exchange="binance",
    )
    return FundsHeld(
        hold_id="h-" + withdrawal_id,
        purpose=HoldPurpose.WITHDRAWAL,
        asset="USDT",
        amount=Decimal(amount),
        withdrawal=spec,
    )


async def test_a_working_key_is_validated_and_a_bad_one_is_not_and_no_secret_leaks(
    execution: Execution, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    good, bad = execution.new_account(), execution.new_account()

    async with execution.running():
        good_key = await execution.add_key(good)
        bad_key = await execution.add_key(bad, secret="not-" + bad.secret)
        (checked_good,) = await execution.wait_for_type(good_key, "ExchangeKeyValidated")
        (checked_bad,) = await execution.wait_for_type(bad_key, "ExchangeKeyValidated")

    assert checked_good.body(ExchangeKeyValidated).valid
    assert checked_good.account_id == good.user
    refused = checked_bad.body(ExchangeKeyValidated)
    assert not refused.valid and "-1022" in refused.detail
    stored = await execution.row(
        "SELECT string_agg(sealed_secret || detail, '') AS everything FROM exchange_keys"
    )
    outbox = await execution.row("SELECT string_agg(value::text, '') AS everything FROM outbox")
    for secret in (good.secret, bad.secret, good.api_key):
        assert secret not in stored["everything"]
        assert secret not in outbox["everything"]
        assert secret not in caplog.text


async def test_a_withdrawal_is_sent_once_with_the_venues_txid(execution: Execution) -> None:
    account = execution.new_account(usdt="1000")
    withdrawal_id = str(uuid.uuid4())

    async with execution.running():
        await execution.add_valid_key(account)
        held = withdrawal_held(withdrawal_id)
        await execution.publish(held, account=account.user, correlation_id=withdrawal_id)
        await execution.publish(held, account=account.user, correlation_id=withdrawal_id)
        (sent,) = await execution.wait_for_type(withdrawal_id, "WithdrawalSent")

    (at_venue,) = execution.sim.book.withdrawals
    assert sent.body(WithdrawalSent).txid == f"binance:{at_venue.withdrawal_id}"  # no hash yet
    assert (at_venue.amount, at_venue.address) == (Decimal("25"), "0xdeadbeef")
    assert at_venue.withdraw_order_id == withdrawal_client_id(withdrawal_id)
    assert execution.sim.book.accounts[account.api_key].balances["USDT"] == Decimal("975")


async def test_a_withdrawal_whose_answer_was_lost_is_found_and_not_sent_twice(
    execution: Execution,
) -> None:
    account = execution.new_account(usdt="1000")
    withdrawal_id = str(uuid.uuid4())
    execution.sim.inject(Fault.accept_then_timeout(hold_seconds=10, path=WITHDRAW_PATH))

    async with execution.running():
        await execution.add_valid_key(account)
        held = withdrawal_held(withdrawal_id)
        await execution.publish(held, account=account.user, correlation_id=withdrawal_id)
        (sent,) = await execution.wait_for_type(withdrawal_id, "WithdrawalSent")

    (at_venue,) = execution.sim.book.withdrawals
    assert sent.body(WithdrawalSent).txid == at_venue.tx_id
    assert len(execution.sim.requests_to("POST", WITHDRAW_PATH)) == 1


async def test_a_withdrawal_the_venue_refuses_fails_as_exchange_rejected(
    execution: Execution,
) -> None:
    account = execution.new_account(usdt="10")
    withdrawal_id = str(uuid.uuid4())

    async with execution.running():
        await execution.add_valid_key(account)
        held = withdrawal_held(withdrawal_id, amount="25")
        await execution.publish(held, account=account.user, correlation_id=withdrawal_id)
        (failed,) = await execution.wait_for_type(withdrawal_id, "WithdrawalFailed")

    assert failed.body(WithdrawalFailed).reason is RejectReason.EXCHANGE_REJECTED
    assert execution.sim.book.withdrawals == []


async def test_a_deposit_at_the_venue_is_detected_once(execution: Execution) -> None:
    account = execution.new_account()

    async with execution.running():
        await execution.add_valid_key(account)
        execution.sim.book.deposit(account.api_key, "USDT", Decimal("150"), "0xfeed01")
        detected = await execution.wait_for(
            support.venue_deposit_id(account.user, "0xfeed01"),
            lambda found: len(found) >= 1,
            "the deposit",
        )
        await support.deposits_polled_again(execution)
        again = await execution.events_of(detected[0].correlation_id)

    assert len(again) == 1
    deposit = again[0].body(DepositDetected)
    assert (deposit.venue, deposit.txid, deposit.asset, deposit.amount) == (
        "binance",
        "0xfeed01",
        "USDT",
        Decimal("150"),
    )
    assert again[0].account_id == account.user


async def test_a_crash_after_one_withdrawal_leaves_the_other_due_ones_unsent_and_uncharged(
    execution: Execution,
) -> None:
    """Only the withdrawal being sent is claimed: a crash then cannot fail the others as "never
    heard of" (a withdrawal the venue has no record of is failed, never sent again)."""
    account = execution.new_account(usdt="1000")
    first, *others = [str(uuid.uuid4()) for _ in range(4)]
    first_sent = asyncio.Event()
    crashed = asyncio.Event()
    sends = 0

    async def others_pending() -> int:
        found = await execution.rows(
            "SELECT 1 FROM withdrawals WHERE withdrawal_id = ANY($1) AND status = 'pending'",
            others,
        )
        return len(found)

    class CrashingOnTheSecondWithdrawal(CcxtVenue):
        async def withdraw(self, request: WithdrawalRequest) -> WithdrawalReceipt:
            nonlocal sends
            receipt = await super().withdraw(request)
            sends += 1
            if sends == 1:  # the others arrive meanwhile: all due together after this one
                first_sent.set()
                await eventually(others_pending, until=lambda n: n == len(others), what="due")
                return receipt
            crashed.set()
            raise asyncio.CancelledError  # killed after the request, before recording it

    def opener(exchange: str, credentials: dict[str, str]) -> RemoteVenue:
        return CrashingOnTheSecondWithdrawal(
            exchange, credentials, timeout_ms=1000, base_url=execution.sim.base_url
        )

    async with execution.running(opener=opener):
        await execution.add_valid_key(account)
        await execution.publish(withdrawal_held(first), account=account.user, correlation_id=first)
        await asyncio.wait_for(first_sent.wait(), timeout=45)
        for withdrawal_id in others:
            held = withdrawal_held(withdrawal_id)
            await execution.publish(held, account=account.user, correlation_id=withdrawal_id)
        await asyncio.wait_for(crashed.wait(), timeout=45)

    assert len(execution.sim.requests_to("POST", WITHDRAW_PATH)) == 2
    rows = await execution.rows(
        "SELECT status, submissions FROM withdrawals WHERE withdrawal_id = ANY($1) ORDER BY status",
        others,
    )
    assert [(r["status"], r["submissions"]) for r in rows] == [
        ("pending", 0),
        ("pending", 0),
        ("unknown", 1),  # sent, its answer lost: looked up, never sent blindly
    ]

    async with execution.running():  # restart: every withdrawal sent, once at the venue
        for withdrawal_id in [first, *others]:
            events = await execution.wait_for_type(withdrawal_id, "WithdrawalSent")
            assert "WithdrawalFailed" not in support.types(events)
    assert len(execution.sim.book.withdrawals) == 4
    assert len(execution.sim.requests_to("POST", WITHDRAW_PATH)) == 4
