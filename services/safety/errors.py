"""Safety's errors. Raised from a handler, they refuse the message: retried, then dead-lettered."""

from __future__ import annotations


class SafetyError(Exception):
    """Root of every error the safety service raises on purpose."""


class UnvaluedFill(SafetyError):
    """A fill whose fee or quote has never had a price: parked rather than booked at a guess."""


class InvalidKillSwitch(SafetyError):
    """A kill-switch change with an unknown scope or a missing target."""


class InvalidLimitOverride(SafetyError):
    """An override for a limit that cannot be set per account, or with a value it cannot take."""


class InvalidRestriction(SafetyError):
    """A restricted-list change naming a symbol that is not `BASE/QUOTE`."""
