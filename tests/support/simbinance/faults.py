"""Faults the simulated Binance can be told to inject, per request (method + path), N times."""

from __future__ import annotations

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
