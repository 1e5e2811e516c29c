"""The pre-withdrawal rules, one function each; the order is fixed in `withdrawals`."""

from __future__ import annotations

from decimal import Decimal

from services.safety.domain.checks import WithdrawalCheck
from services.safety.domain.limits import PAPER_VENUE
from services.safety.domain.rejection import Rejection, shown
from services.safety.domain.state import utc_day
from shared.contracts.reasons import RejectReason


def kill_switch(check: WithdrawalCheck) -> Rejection | None:
    stopping = check.switches.halting_withdrawal(check.account_id)
    if stopping is None:
        return None
    return Rejection(
        RejectReason.KILL_SWITCH,
        "kill_switch",
        f"withdrawals are halted by the {stopping.scope} kill switch ({stopping.mode})",
        {"scope": stopping.scope.value, "target": stopping.target, "mode": stopping.mode.value},
    )


def two_factor(check: WithdrawalCheck) -> Rejection | None:
    if check.command.two_factor_verified or not check.limits.withdrawal_requires_two_factor:
        return None
    return Rejection(
        RejectReason.TWO_FACTOR_REQUIRED,
        "two_factor",
        "a withdrawal needs a verified second factor",
        {"two_factor_verified": "false"},
    )


def exchange_key(check: WithdrawalCheck) -> Rejection | None:
    exchange = check.withdrawal.exchange
    if exchange == PAPER_VENUE or exchange in check.account.validated_exchanges:
        return None
    return Rejection(
        RejectReason.EXCHANGE_KEY_INVALID,
        "exchange_key",
        f"no validated API key for exchange {exchange!r}",
        {"exchange": exchange},
    )


def withdrawal_daily(check: WithdrawalCheck, amount_usd: Decimal) -> Rejection | None:
    limit = check.limits.withdrawal_daily_limit_usd
    already = check.account.withdrawn_on(utc_day(check.now))
    if already + amount_usd <= limit:
        return None
    return Rejection(
        RejectReason.WITHDRAWAL_DAILY_LIMIT,
        "withdrawal_daily",
        "this withdrawal would take today's withdrawals over the limit",
        {
            "withdrawn_today_usd": shown(already),
            "amount_usd": shown(amount_usd),
            "withdrawal_daily_limit_usd": shown(limit),
        },
    )
