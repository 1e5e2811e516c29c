"""The gateway's exceptions: one root; `problems.py` maps each to its HTTP status and code."""

from __future__ import annotations


class GatewayError(Exception):
    """Root of every error the gateway answers with a problem document."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(GatewayError):
    """Unknown, or somebody else's: the two are never told apart."""


class EmailTaken(GatewayError):
    pass


class Unauthorized(GatewayError):
    """No bearer token."""


class TokenInvalid(GatewayError):
    """A token that is malformed, tampered with, of another algorithm, or expired."""


class InvalidCredentials(GatewayError):
    pass


class TotpRequired(GatewayError):
    """2FA is on and the login carried no code, or a wrong or replayed one."""


class TotpInvalid(GatewayError):
    """A wrong or replayed code where the user is already authenticated (2FA confirm)."""


class TwoFactorRequired(GatewayError):
    """A real-money request without 2FA enabled or without a valid, unused `X-TOTP-Code`."""


class TwoFactorAlreadyEnabled(GatewayError):
    pass


class TwoFactorNotEnrolled(GatewayError):
    pass


class Forbidden(GatewayError):
    """Authenticated, but not an admin."""


class CrossSiteRefused(GatewayError):
    """A console-session request that may come from another site: it lacks the console's
    request header, or its `Origin` / `Sec-Fetch-Site` names another origin."""


class Throttled(GatewayError):
    """Refused for now (429); `Retry-After` says when to try again."""

    def __init__(self, detail: str, retry_after_seconds: int) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class TooManyAttempts(Throttled):
    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(
            f"too many failed attempts; retry in {retry_after_seconds} s", retry_after_seconds
        )


class TooManyCancels(Throttled):
    """An account over its cancel cap (cancel requests per second)."""

    def __init__(self, limit: int, retry_after_seconds: int) -> None:
        super().__init__(
            f"more than {limit} cancel requests in one second; retry in {retry_after_seconds} s",
            retry_after_seconds,
        )


class IdempotencyKeyRequired(GatewayError):
    pass


class IdempotencyKeyInvalid(GatewayError):
    pass


class IdempotencyKeyReused(GatewayError):
    pass


class IdempotencyRequestInProgress(GatewayError):
    pass


class KillSwitchTargetUnknown(GatewayError):
    """An account switch naming no user (in any letter case): nothing is engaged."""


class DepositReferenceTaken(GatewayError):
    """Another deposit (any user, any asset) already used this reference."""


class RestrictionTargetUnknown(GatewayError):
    """An account restriction naming no user (in any letter case): nothing is restricted."""


class OrderNotCancellable(GatewayError):
    """The order is already final."""


class EncryptionUnavailable(GatewayError):
    """No encryption key is configured: secrets cannot be stored."""


class InvalidCursor(GatewayError):
    pass


class InvalidSeqRange(GatewayError):
    """An audit export range that names no rows (below 1, or the end before the start)."""


class AuditUnavailable(GatewayError):
    """The audit trail cannot be read: the export fails closed rather than cut rows."""


class DeadLetterUnknown(GatewayError):
    """No dead letter at that topic, partition and offset: nothing was re-driven."""


class RedriveLimitReached(GatewayError):
    """The message was re-driven as many times as the limit allows: nothing was sent."""


class RedriveNotOwned(GatewayError):
    """The letter's topic is written by another service: re-driving it through the gateway's
    outbox would publish on a topic the gateway does not own (refused by the broker's ACLs, and
    held in the outbox ahead of every order). The CLI re-drives it through its owner."""


class BrokerUnavailable(GatewayError):
    """The broker could not be read: the console shows nothing rather than a partial list."""


class AdminCreationRefused(GatewayError, ValueError):
    """`create_admin` on an existing e-mail with another password (the CLI prints it)."""
