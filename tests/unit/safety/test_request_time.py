"""The rolling windows count orders when they were made (`occurred_at`), not when delivered."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from services.safety.domain import AccountState, OrderDecision, decide_order, request_time
from shared.contracts.decisions import OrderRejected
from shared.contracts.reasons import RejectReason
from tests.unit.safety.scenario import NOW, order, order_check

SKEW = timedelta(hours=1)


def deliver_at_once(made_at: list[datetime], delivered: datetime) -> list[OrderDecision]:
    """Decide orders one after another at the same `delivered` moment, as safety does with a
    backlog, feeding each approval's request time back into the account's history."""
    account, decisions = AccountState(registered=True), []
    for n, occurred_at in enumerate(made_at):
        at = request_time(occurred_at, delivered, SKEW)
        check = dataclasses.replace(
            order_check(order(order_id=f"o-{n}"), account=account, now=delivered),
            requested_at=at,
        )
        decision = decide_order(check)
        decisions.append(decision)
        if decision.approved:
            account = dataclasses.replace(account, approvals=(*account.approvals, at))
    return decisions


def test_twenty_orders_made_a_second_apart_but_delivered_at_once_are_not_throttled() -> None:
    made_at = [NOW - timedelta(seconds=20 - n) for n in range(20)]
    assert all(d.approved for d in deliver_at_once(made_at, delivered=NOW))


def test_twenty_orders_made_in_the_same_second_are_throttled_after_the_tenth() -> None:
    made_at = [NOW - timedelta(seconds=30, milliseconds=-40 * n) for n in range(20)]
    decisions = deliver_at_once(made_at, delivered=NOW)
    assert [d.approved for d in decisions] == [True] * 10 + [False] * 10
    rejected = decisions[10].outcome
    assert isinstance(rejected, OrderRejected)
    assert (rejected.reason, rejected.rule) == (RejectReason.HOURLY_TRADE_LIMIT, "order_rate")


def test_a_future_timestamp_counts_as_now_and_an_ancient_one_as_the_skew_bound() -> None:
    assert request_time(NOW + timedelta(days=365), NOW, SKEW) == NOW
    assert request_time(NOW - timedelta(days=365), NOW, SKEW) == NOW - SKEW
    assert request_time(NOW - timedelta(minutes=5), NOW, SKEW) == NOW - timedelta(minutes=5)


def test_forged_timestamps_far_apart_cannot_dodge_the_throttle() -> None:
    """Far-future stamps count as now and far-past ones as `now - skew`; the approvals already
    counted (stamped later) still fill that second, so only ten get through in all."""
    made_at = [NOW + timedelta(days=n) for n in range(1, 16)]
    made_at += [NOW - timedelta(days=n) for n in range(1, 16)]
    decisions = deliver_at_once(made_at, delivered=NOW)
    assert [d.approved for d in decisions] == [True] * 10 + [False] * 20


def test_without_a_request_time_the_windows_end_now() -> None:
    check = order_check(now=NOW)
    assert check.request_time == NOW
