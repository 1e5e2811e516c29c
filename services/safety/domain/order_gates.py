"""The gates an order passes before anything about its market or price is asked: the account
is registered, no kill switch stops it, and a real-money order has its second factor and a
validated exchange key. One function each, returning a `Rejection` or None (passed).

`account_active` decides withdrawals too (`services.safety.domain.withdrawals`). The order
every rule runs in is fixed in `services.safety.domain.orders`.
"""

from __future__ import annotations

from services.safety.domain.checks import OrderCheck, WithdrawalCheck
from services.safety.domain.rejection import Rejection
from shared.contracts.accounts import KillSwitchMode
from shared.contracts.orders import Mode
from shared.contracts.reasons import RejectReason


def account_active(check: OrderCheck | WithdrawalCheck) -> Rejection | None:
    """Orders and withdrawals alike: only from an account safety has seen registered."""
    if check.account.registered:
        return None
    return Rejection(
        RejectReason.ACCOUNT_INACTIVE,
        "account_active",
        "safety has not seen this account registered; if it was just created, retry shortly",
        {"account_id": check.account_id, "registered": "false"},
    )


def kill_switch(check: OrderCheck) -> Rejection | None:
    order = check.order
    stopping = check.switches.halting_order(check.account_id, order.symbol, order.side)
    if stopping is None:
        return None
    if stopping.mode is KillSwitchMode.REDUCE_ONLY:
        detail = f"the {stopping.scope} kill switch is reduce-only: only sells are accepted"
    else:
        detail = f"trading is halted by the {stopping.scope} kill switch"
    return Rejection(
        RejectReason.KILL_SWITCH,
        "kill_switch",
        detail,
        {"scope": stopping.scope.value, "target": stopping.target, "mode": stopping.mode.value},
    )


def two_factor(check: OrderCheck) -> Rejection | None:
    if check.order.mode is not Mode.REAL or check.command.two_factor_verified:
        return None
    return Rejection(
        RejectReason.TWO_FACTOR_REQUIRED,
        "two_factor",
        "a real-money order needs a verified second factor",
        {"mode": check.order.mode.value, "two_factor_verified": "false"},
    )


def exchange_key(check: OrderCheck) -> Rejection | None:
    exchange = check.order.exchange
    if check.order.mode is not Mode.REAL or exchange in check.account.validated_exchanges:
        return None
    return Rejection(
        RejectReason.EXCHANGE_KEY_INVALID,
        "exchange_key",
        f"no validated API key for exchange {exchange!r}",
        {"exchange": exchange},
    )
