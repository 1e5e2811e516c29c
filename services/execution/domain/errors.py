"""Execution's exceptions: one root, and the venue outcomes other than success."""

from __future__ import annotations


class ExecutionError(Exception):
    """Root of every error raised by the execution service."""


class MalformedHold(ExecutionError):
    """A `FundsHeld` that does not carry what its purpose needs: refused (retried, then DLQ)."""


class InvalidKillSwitch(ExecutionError):
    """A `KillSwitchChanged` with a scope no service enforces, or a scoped one without a target:
    it cancels nothing (retried, then DLQ), where it used to be read as a global switch."""


class VenueRejected(ExecutionError):
    """The venue definitely refused the request (bad order, insufficient balance, bad key)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class VenueOutcomeUnknown(ExecutionError):
    """The request may or may not have been applied (timeout, network error, 5xx): never resend.

    `retry_after_seconds`: the venue asked not to be called again sooner (429's Retry-After).
    """

    def __init__(self, detail: str, retry_after_seconds: float | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after_seconds = retry_after_seconds


class VenueNotReached(ExecutionError):
    """The request was certainly NOT sent (backing off after a 429, markets could not be loaded,
    the client could not be built): nothing happened at the venue, it is safe to try later."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
