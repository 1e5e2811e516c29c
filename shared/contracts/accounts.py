"""Account activity, so the audit trail holds what users did too. Never carries a secret."""

from __future__ import annotations

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


@register
class KillSwitchChanged(Payload):
    TYPE = "KillSwitchChanged"
    TOPIC = Topic.ACCOUNT_EVENTS
    scope: str
    target: str | None = None
    engaged: bool
    reason: str
    changed_by: str


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
