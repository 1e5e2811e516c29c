"""Execution's exceptions: one root, and the venue outcomes other than success."""

from __future__ import annotations


class ExecutionError(Exception):
    """Root of every error raised by the execution service."""


class MalformedHold(ExecutionError):
    """A `FundsHeld` that does not carry what its purpose needs: refused (retried, then DLQ)."""


class VenueRejected(ExecutionError):
    """The venue definitely refused the request (bad order, insufficient balance, bad key)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class VenueOutcomeUnknown(ExecutionError):
    """The request may or may not have been applied (timeout, network error, 5xx): never resend."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
