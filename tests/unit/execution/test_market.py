from __future__ import annotations

from decimal import Decimal

from services.execution.paper.market import WalkPoint, shock, start, step

VOLATILITY = Decimal("0.0005")


def walk(point: WalkPoint, steps: int, *, seed: int = 7) -> list[WalkPoint]:
    points = []
    for _ in range(steps):
        point = step(point, seed=seed, volatility=VOLATILITY)
        points.append(point)
    return points


def test_the_same_seed_gives_the_same_prices() -> None:
    origin = start("BTC/USDT", Decimal("65000"))
    assert walk(origin, 50) == walk(origin, 50)


def test_another_seed_gives_other_prices() -> None:
    origin = start("BTC/USDT", Decimal("65000"))
    assert [p.price for p in walk(origin, 20, seed=1)] != [
        p.price for p in walk(origin, 20, seed=2)
    ]


def test_symbols_walk_independently() -> None:
    assert shock(7, "BTC/USDT", 1) != shock(7, "ETH/USDT", 1)


def test_prices_are_decimals_to_the_cent_and_sequences_count_up() -> None:
    points = walk(start("ETH/USDT", Decimal("3500")), 30)
    assert [p.sequence for p in points] == list(range(1, 31))
    for point in points:
        assert isinstance(point.price, Decimal)
        assert point.price.as_tuple().exponent == -2
        assert point.price > 0


def test_a_restart_continues_the_walk_from_the_saved_point() -> None:
    origin = start("SOL/USDT", Decimal("150"))
    uninterrupted = walk(origin, 10)
    first_half = walk(origin, 5)
    saved = WalkPoint("SOL/USDT", first_half[-1].price, first_half[-1].sequence)
    assert first_half + walk(saved, 5) == uninterrupted


def test_the_walk_moves_but_stays_near_its_start() -> None:
    points = walk(start("BTC/USDT", Decimal("65000")), 100)
    assert len({p.price for p in points}) > 10
    assert all(Decimal("50000") < p.price < Decimal("80000") for p in points)


def test_a_price_never_falls_below_one_cent() -> None:
    point = start("PENNY/USDT", Decimal("0.01"))
    for _ in range(200):
        point = step(point, seed=3, volatility=Decimal("0.1"))
        assert point.price >= Decimal("0.01")
