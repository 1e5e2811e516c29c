"""Faults the simulated Binance can be told to inject, per request (method + path), N times."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

ORDER_PATH = "/api/v3/order"
WITHDRAW_PATH = "/sapi/v1/capital/withdraw/apply"


class FaultKind(StrEnum):
    ACCEPT_THEN_TIMEOUT = "accept_then_timeout"
    """Apply the request (the order IS created), then hold the answer past the client's timeout."""
    SERVER_ERROR = "server_error"
    """Answer 5xx; with `applied`, after applying the request (the client cannot tell which)."""
    RATE_LIMITED = "rate_limited"
    """Answer 429 with `Retry-After`, without applying the request."""
    INSUFFICIENT_BALANCE = "insufficient_balance"
    """Answer -2010 "Account has insufficient balance for requested action." (nothing applied)."""


@dataclass
class Fault:
    kind: FaultKind
    method: str = "POST"
    path: str = ORDER_PATH
    times: int = 1
    status: int = 503
    applied: bool = False
    retry_after_seconds: int = 1
    hold_seconds: float = 30.0

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and self.method == method and self.path == path

    @classmethod
    def accept_then_timeout(
        cls, *, hold_seconds: float = 30.0, path: str = ORDER_PATH, times: int = 1
    ) -> Fault:
        return cls(FaultKind.ACCEPT_THEN_TIMEOUT, path=path, hold_seconds=hold_seconds, times=times)

    @classmethod
    def server_error(
        cls, *, status: int = 503, applied: bool = False, path: str = ORDER_PATH, times: int = 1
    ) -> Fault:
        return cls(FaultKind.SERVER_ERROR, path=path, status=status, applied=applied, times=times)

    @classmethod
    def rate_limited(
        cls, *, retry_after_seconds: int = 1, method: str = "POST", path: str = ORDER_PATH,
        times: int = 1,
    ) -> Fault:  # fmt: skip
        return cls(
            FaultKind.RATE_LIMITED,
            method=method,
            path=path,
            retry_after_seconds=retry_after_seconds,
            times=times,
        )

    @classmethod
    def insufficient_balance(cls, *, times: int = 1) -> Fault:
        return cls(FaultKind.INSUFFICIENT_BALANCE, times=times)


@dataclass(frozen=True)
class Scheduled:
    at: float
    """Seconds after the schedule starts: armed then, for the next matching request."""
    fault: Fault


CANCEL_OR_LOOKUP = (("DELETE", ORDER_PATH), ("GET", ORDER_PATH))


def random_faults(
    rng: random.Random, *, within: float, count: int, hold_seconds: float
) -> list[Scheduled]:
    """`count` faults armed at seeded random moments of `within` seconds, in time order.

    Half of them hit placing an order, the rest cancels, lookups and withdrawals; each is an
    accept-then-timeout (answered after `hold_seconds`, past the client's timeout), a 5xx
    (applied or not, the client cannot tell) or a 429 with `Retry-After`.
    """
    plan: list[Scheduled] = []
    for _ in range(count):
        roll = rng.random()
        method, path = (
            ("POST", ORDER_PATH)
            if roll < 0.5
            else ("POST", WITHDRAW_PATH)
            if roll < 0.6
            else rng.choice(CANCEL_OR_LOOKUP)
        )
        kind = rng.choice(
            [FaultKind.ACCEPT_THEN_TIMEOUT, FaultKind.SERVER_ERROR, FaultKind.RATE_LIMITED]
        )
        fault = Fault(
            kind,
            method=method,
            path=path,
            status=rng.choice([500, 502, 503, 504]),
            applied=rng.random() < 0.5,
            retry_after_seconds=rng.randint(1, 2),
            hold_seconds=hold_seconds,
        )
        plan.append(Scheduled(rng.uniform(0, within), fault))
    return sorted(plan, key=lambda s: s.at)
