"""Account activity, so the audit trail holds what users did too. Never carries a secret."""

from __future__ import annotations

from enum import StrEnum

from shared.contracts.envelope import Payload, register
from shared.contracts.topics import Topic


@register
class UserRegistered(Payload):
    TYPE = "UserRegistered"
    TOPIC = Topic.ACCOUNT_EVENTS
    user_id: str
    role: str


@register
class LoginSucceeded(Payload):
    TYPE = "LoginSucceeded"
    TOPIC = Topic.ACCOUNT_EVENTS
    user_id: str


@register
class LoginFailed(Payload):
    TYPE = "LoginFailed"
    TOPIC = Topic.ACCOUNT_EVENTS
    user_id: str
    reason: str


class KillSwitchScope(StrEnum):
    """What a kill switch covers; an account target is a user id, a symbol one `BASE/QUOTE`."""

    GLOBAL = "global"
    ACCOUNT = "account"
    SYMBOL = "symbol"


class KillSwitchMode(StrEnum):
    """What an engaged switch lets through in its scope."""

    HALT = "halt"
    """No new order; every open order is cancelled."""
    REDUCE_ONLY = "reduce_only"
    """Only sells (they reduce the position in the base asset); open buys are cancelled."""


class UnenforceableKillSwitch(ValueError):
    """A `KillSwitchChanged` whose scope `KillSwitchScope` does not name, or a scoped one
    without a target: no service enforces it, so each consumer dead-letters it."""


@register
class KillSwitchChanged(Payload):
    """An operator (or safety itself) engaged or released a switch.

    `scope` stays a string on the wire (v1 published it so); consumers read it through
    `KillSwitchScope` and dead-letter a value it does not name. `mode` was added later:
    a change without it is a `halt`, as every switch was before."""

    TYPE = "KillSwitchChanged"
    TOPIC = Topic.ACCOUNT_EVENTS
    scope: str
    target: str | None = None
    engaged: bool
    reason: str
    changed_by: str
    mode: KillSwitchMode = KillSwitchMode.HALT

    def switch(self) -> tuple[KillSwitchScope, str | None]:
        """The scope, typed, and the target (None for a global switch, whatever was sent):
        read the same way by every consumer. Raises `UnenforceableKillSwitch`."""
        try:
            scope = KillSwitchScope(self.scope)
        except ValueError:
            raise UnenforceableKillSwitch(f"unknown kill-switch scope {self.scope!r}") from None
        if scope is KillSwitchScope.GLOBAL:
            return scope, None
        if not self.target:
            raise UnenforceableKillSwitch(f"a {scope} kill switch needs a target")
        return scope, self.target


@register
class TwoFactorEnabled(Payload):
    TYPE = "TwoFactorEnabled"
    TOPIC = Topic.ACCOUNT_EVENTS
    user_id: str


@register
class ExchangeKeyAdded(Payload):
    """A user's exchange credentials, sealed for execution (see `shared.sealed`)."""

    TYPE = "ExchangeKeyAdded"
    TOPIC = Topic.ACCOUNT_EVENTS
    key_id: str
    exchange: str
    sealed_secret: str
