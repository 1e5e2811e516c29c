"""Account activity and commands leave through here: the outbox plus the owner's audit entry,
in the caller's transaction. These events never carry a secret."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.gateway.store import accounts, trail
from shared.contracts.accounts import (
    ExchangeKeyAdded,
    LoginFailed,
    LoginSucceeded,
    TwoFactorEnabled,
    UserRegistered,
)
from shared.contracts.envelope import Envelope
from shared.contracts.orders import CancelAllAfterArmed
from shared.db import Connection
from shared.emitter import Emitter
from shared.outbox import enqueue


async def emit(conn: Connection, user_id: str, *messages: Envelope) -> None:
    """Enqueue `messages` (built by the gateway's `Emitter`, stamped at the `now` the request
    decided at) and record them in `user_id`'s audit entries."""
    await enqueue(conn, *messages)
    for message in messages:
        await trail.add_entry(conn, message, user_id)


def user_registered(emitter: Emitter, user_id: str, role: str, now: datetime) -> Envelope:
    payload = UserRegistered(user_id=user_id, role=role)
    return emitter.message(payload, account_id=user_id, correlation_id=user_id, now=now)


def login_succeeded(emitter: Emitter, user_id: str, now: datetime) -> Envelope:
    payload = LoginSucceeded(user_id=user_id)
    return emitter.message(payload, account_id=user_id, correlation_id=user_id, now=now)


def login_failed(emitter: Emitter, user_id: str, reason: str, now: datetime) -> Envelope:
    payload = LoginFailed(user_id=user_id, reason=reason)
    return emitter.message(payload, account_id=user_id, correlation_id=user_id, now=now)


def two_factor_enabled(emitter: Emitter, user_id: str, now: datetime) -> Envelope:
    payload = TwoFactorEnabled(user_id=user_id)
    return emitter.message(payload, account_id=user_id, correlation_id=user_id, now=now)


def exchange_key_added(
    emitter: Emitter, user_id: str, key_id: str, exchange: str, sealed_secret: str, now: datetime
) -> Envelope:
    """`sealed_secret` is sealed for execution (`shared.sealed`); the audit trail redacts it."""
    payload = ExchangeKeyAdded(key_id=key_id, exchange=exchange, sealed_secret=sealed_secret)
    return emitter.message(payload, account_id=user_id, correlation_id=key_id, now=now)


def cancel_all_after_armed(
    emitter: Emitter, user_id: str, timeout_seconds: int, now: datetime
) -> Envelope:
    """The user's dead man's switch, due `timeout_seconds` after `now` (the gateway's clock:
    a late delivery never extends it); 0 disarms it."""
    armed_until = now + timedelta(seconds=timeout_seconds) if timeout_seconds else None
    payload = CancelAllAfterArmed(timeout_seconds=timeout_seconds, armed_until=armed_until)
    correlation = f"cancel-all-after:{user_id}"
    return emitter.message(payload, account_id=user_id, correlation_id=correlation, now=now)


async def record_failed_attempt(
    conn: Connection,
    emitter: Emitter,
    subjects: list[str],
    now: datetime,
    *,
    user_id: str | None,
    reason: str,
) -> None:
    """Count a failed login or 2FA attempt against `subjects`; a known user gets `LoginFailed`.
    Run in a transaction of its own: the failed request's own transaction is rolled back."""
    await accounts.record_failures(conn, subjects, now)
    if user_id is not None:
        await emit(conn, user_id, login_failed(emitter, user_id, reason, now))
