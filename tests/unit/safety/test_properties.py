"""Properties over generated accounts and order streams: no approval ever breaks a limit."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from services.safety.domain import (
    AccountState,
    Limits,
    OrderDecision,
    Position,
    decide_order,
    utc_day,
)
from services.safety.domain.markets import MarketListing, MarketRules
from shared.contracts.orders import Side
from tests.unit.safety.scenario import (
    BTC_PRICE,
    NOW,
    default_limits,
    listed,
    order,
    order_check,
    prices,
)

money = st.decimals(min_value=Decimal("0"), max_value=Decimal("20000000"), places=2)
amounts = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("50"), places=8)
band_prices = st.decimals(min_value=Decimal("40000"), max_value=Decimal("60000"), places=2)
moments = st.integers(min_value=0, max_value=7200).map(lambda s: NOW - timedelta(seconds=s))


@st.composite
def accounts(draw: st.DrawFn) -> AccountState:
    return AccountState(
        registered=True,
        approvals=tuple(draw(st.lists(moments, max_size=120))),
        rejections=tuple(draw(st.lists(moments, max_size=60))),
        order_volume_usd={NOW.date(): draw(money)},
        realised_pnl_usd={NOW.date(): -draw(money)},
        consecutive_failures=draw(st.integers(0, 5)),
        last_failure_at=draw(st.none() | moments),
        positions={"BTC": Position(draw(money) / BTC_PRICE, Decimal(0), draw(amounts))},
    )


def assert_within_limits(decision: OrderDecision, account: AccountState, limits: Limits) -> None:
    """What an approval promises, restated independently of the rules' code."""
    assert decision.valuation is not None
    notional = decision.valuation.notional_usd
    assert limits.min_notional_usd <= notional <= limits.max_notional_usd
    assert account.volume_on(utc_day(NOW)) + notional <= limits.daily_volume_limit_usd
    assert sum(1 for t in account.approvals if t > NOW - timedelta(hours=1)) < 100
    assert sum(1 for t in account.approvals if t > NOW - timedelta(seconds=1)) < 10
    assert -account.pnl_on(utc_day(NOW)) <= limits.daily_loss_limit_usd
    last = account.last_failure_at
    assert account.consecutive_failures < 3 or last is None or NOW >= last + limits.cooldown


@settings(max_examples=300, deadline=None)
@given(
    account=accounts(),
    amount=amounts,
    price=st.none() | band_prices,
    side=st.sampled_from(Side),
)
def test_an_approved_order_never_breaks_a_limit(
    account: AccountState, amount: Decimal, price: Decimal | None, side: Side
) -> None:
    spec = order(amount=str(amount), price=None if price is None else str(price), side=side)
    check = order_check(spec, account=account)
    decision = decide_order(check)
    if not decision.approved:
        return
    assert_within_limits(decision, account, check.limits)
    if price is not None:
        assert abs(price - BTC_PRICE) <= BTC_PRICE * Decimal("0.10")
    if side is Side.BUY:
        position = account.position("BTC")
        after = max(position.quantity, Decimal(0)) + position.open_buy + amount
        assert after * BTC_PRICE <= check.limits.position_limit_usd


@settings(max_examples=200, deadline=None)
@given(account=accounts(), amount=amounts, side=st.sampled_from(Side))
def test_the_same_command_on_the_same_state_gets_the_same_decision(
    account: AccountState, amount: Decimal, side: Side
) -> None:
    """A redelivered command that reaches the rules (its first try rolled back) is decided
    exactly as the first try would have been: no hidden state, no clock but `now`."""
    check = order_check(order(amount=str(amount), side=side), account=account)
    assert decide_order(check) == decide_order(check)


def record(account: AccountState, decision: OrderDecision, now_seconds: int) -> AccountState:
    """What the store does with an approval: count it at once."""
    if not decision.approved or decision.valuation is None:
        return account
    now = NOW + timedelta(seconds=now_seconds)
    spec = decision.outcome.order if hasattr(decision.outcome, "order") else None
    assert spec is not None
    day = utc_day(now)
    position = account.position("BTC")
    opened = position.open_buy + (spec.amount if spec.side is Side.BUY else 0)
    return dataclasses.replace(
        account,
        approvals=(*account.approvals, now),
        order_volume_usd={day: account.volume_on(day) + decision.valuation.notional_usd},
        positions={"BTC": dataclasses.replace(position, open_buy=opened)},
    )


@settings(max_examples=150, deadline=None)
@given(
    stream=st.lists(
        st.tuples(st.integers(0, 3), amounts.map(lambda a: a / 10), st.sampled_from(Side)),
        min_size=1,
        max_size=40,
    )
)
def test_a_stream_of_orders_never_takes_the_totals_past_a_limit(
    stream: list[tuple[int, Decimal, Side]],
) -> None:
    limits = default_limits(
        hourly_trade_limit=12,
        orders_per_second=3,
        daily_volume_limit_usd=Decimal("200000"),
        position_limit_usd=Decimal("150000"),
    )
    account, clock = AccountState(registered=True), 0
    for number, (pause, amount, side) in enumerate(stream):
        clock += pause
        now = NOW + timedelta(seconds=clock)
        spec = order(amount=str(amount), side=side, order_id=f"order-{number}")
        check = order_check(spec, account=account, limits=limits, now=now, book=prices(at=now))
        account = record(account, decide_order(check), clock)
        day = utc_day(now)
        assert account.volume_on(day) <= limits.daily_volume_limit_usd
        assert len(account.approvals) <= limits.hourly_trade_limit
        assert sum(1 for t in account.approvals if t > now - timedelta(seconds=1)) <= 3
        assert account.position("BTC").open_buy * BTC_PRICE <= limits.position_limit_usd


steps = st.sampled_from([Decimal("0.00001"), Decimal("0.001"), Decimal("0.1"), Decimal("1")])


@st.composite
def market_rules(draw: st.DrawFn) -> MarketRules:
    """A venue's rules for BTC/USDT, any of them possibly unstated (None)."""
    low = draw(st.decimals(min_value=Decimal("0.00001"), max_value=Decimal("5"), places=5))
    cost_low = draw(st.decimals(min_value=Decimal("1"), max_value=Decimal("100000"), places=2))
    return MarketRules(
        amount_min=draw(st.none() | st.just(low)),
        amount_max=draw(st.none() | st.just(low * 10)),
        cost_min=draw(st.none() | st.just(cost_low)),
        cost_max=draw(st.none() | st.just(cost_low * 100)),
        amount_step=draw(st.none() | steps),
        price_step=draw(st.none() | st.sampled_from([Decimal("0.01"), Decimal("1"), Decimal("5")])),
    )


@settings(max_examples=300, deadline=None)
@given(
    rules=market_rules(),
    amount=amounts,
    price=st.none() | band_prices,
)
def test_an_approved_order_keeps_every_rule_of_its_market(
    rules: MarketRules, amount: Decimal, price: Decimal | None
) -> None:
    spec = order(amount=str(amount), price=None if price is None else str(price))
    decision = decide_order(order_check(spec, market=listed(rules)))
    if not decision.approved:
        return
    cost = amount * (price if price is not None else BTC_PRICE)
    assert rules.amount_min is None or amount >= rules.amount_min
    assert rules.amount_max is None or amount <= rules.amount_max
    assert rules.cost_min is None or cost >= rules.cost_min
    assert rules.cost_max is None or cost <= rules.cost_max
    assert rules.amount_step is None or amount % rules.amount_step == 0
    assert rules.price_step is None or price is None or price % rules.price_step == 0


@settings(max_examples=100, deadline=None)
@given(amount=amounts, price=st.none() | band_prices)
def test_nothing_is_approved_for_a_market_that_is_not_listed(
    amount: Decimal, price: Decimal | None
) -> None:
    spec = order(amount=str(amount), price=None if price is None else str(price))
    for unlisted in (MarketListing(True, None), MarketListing(False, None)):
        assert not decide_order(order_check(spec, market=unlisted)).approved
