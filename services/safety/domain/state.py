"""What safety knows when it decides: reference prices, kill switches, one account's history.

All of it is plain values loaded by the store; the rules never fetch anything.
Windows (rolling hour, UTC day) are applied here against the `now` passed in,
so a state loaded a little too wide still decides correctly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from shared.contracts.accounts import KillSwitchMode, KillSwitchScope
from shared.contracts.orders import OrderSpec, Side
from shared.contracts.restrictions import RestrictionScope

ZERO = Decimal(0)


def utc_day(moment: datetime) -> date:
    """The UTC calendar day a moment belongs to (daily limits reset at 00:00 UTC)."""
    return moment.astimezone(UTC).date()


def request_time(occurred_at: datetime, now: datetime, max_skew: timedelta) -> datetime:
    """When the user made a request, as the rolling windows count it: the command's
    `occurred_at` (set by the gateway when it accepted the request) clamped into
    [now - max_skew, now]. A backlog delivered at once after an outage is counted at the
    times it was made, not as a burst; a timestamp from the future counts as now and one
    older than `max_skew` as `now - max_skew`, so no timestamp moves a request out of reach
    of the limits by more than `max_skew`."""
    return min(max(occurred_at, now - max_skew), now)


def count_within(moments: tuple[datetime, ...], now: datetime, window: timedelta) -> int:
    """How many moments fall in the rolling window ending now. A moment after `now` (another
    instance's clock running ahead) counts too: a skewed clock must not open a limit."""
    return sum(1 for moment in moments if moment > now - window)


@dataclass(frozen=True)
class ReferencePrice:
    price: Decimal
    observed_at: datetime


@dataclass(frozen=True)
class PriceBook:
    """The latest reference price per symbol (`BASE/QUOTE`), with when it was observed."""

    prices: Mapping[str, ReferencePrice] = field(default_factory=dict)

    def fresh(self, symbol: str, now: datetime, max_age: timedelta) -> Decimal | None:
        """The price if observed within `max_age` of now (either side: a far-future tick is
        as untrustworthy as a stale one); otherwise None."""
        reference = self.prices.get(symbol)
        if reference is None or abs(now - reference.observed_at) > max_age:
            return None
        return reference.price

    def latest(self, symbol: str) -> Decimal | None:
        """The last known price at any age: for accounting after the fact, never for approval."""
        reference = self.prices.get(symbol)
        return reference.price if reference is not None else None


Switch = tuple[KillSwitchScope, str]
"""An engaged switch: (scope, target); the global switch has target ""."""


@dataclass(frozen=True)
class Stopping:
    """The switch that refuses a request, and in which mode it is engaged."""

    scope: KillSwitchScope
    target: str
    mode: KillSwitchMode


@dataclass(frozen=True)
class KillSwitches:
    """Engaged switches. Those also in `reduce_only` let position-reducing orders (sells)
    through; every other engaged switch halts its scope."""

    engaged: frozenset[Switch] = frozenset()
    reduce_only: frozenset[Switch] = frozenset()

    def _covering(self, *candidates: Switch) -> list[Stopping]:
        """The engaged switches among `candidates`, each with its mode."""
        return [
            Stopping(scope, target, self._mode((scope, target)))
            for scope, target in candidates
            if (scope, target) in self.engaged
        ]

    def _mode(self, switch: Switch) -> KillSwitchMode:
        return KillSwitchMode.REDUCE_ONLY if switch in self.reduce_only else KillSwitchMode.HALT

    def halting_order(self, account_id: str, symbol: str, side: Side) -> Stopping | None:
        """The switch that refuses this order, the strictest first: any halting switch in
        scope refuses it; otherwise a reduce-only one refuses a buy (a sell of the base asset
        can only shrink the position: the ledger holds no more than the account has)."""
        covering = self._covering(
            (KillSwitchScope.GLOBAL, ""),
            (KillSwitchScope.ACCOUNT, account_id),
            (KillSwitchScope.SYMBOL, symbol),
        )
        for switch in covering:
            if switch.mode is KillSwitchMode.HALT:
                return switch
        if covering and side is Side.BUY:
            return covering[0]
        return None

    def halting_withdrawal(self, account_id: str) -> Stopping | None:
        """A global or account switch in either mode stops withdrawals: reduce-only winds
        positions down, it does not let money leave."""
        covering = self._covering(
            (KillSwitchScope.GLOBAL, ""), (KillSwitchScope.ACCOUNT, account_id)
        )
        return covering[0] if covering else None


@dataclass(frozen=True)
class Restrictions:
    """The operator's restricted list in force, as (scope, target): a symbol `BASE/QUOTE` or
    an account's user id."""

    listed: frozenset[tuple[RestrictionScope, str]] = frozenset()

    def covering_order(self, account_id: str, symbol: str) -> tuple[RestrictionScope, str] | None:
        for candidate in (
            (RestrictionScope.ACCOUNT, account_id),
            (RestrictionScope.SYMBOL, symbol),
        ):
            if candidate in self.listed:
                return candidate
        return None

    def covering_withdrawal(self, account_id: str) -> tuple[RestrictionScope, str] | None:
        candidate = (RestrictionScope.ACCOUNT, account_id)
        return candidate if candidate in self.listed else None


@dataclass(frozen=True)
class SentOrder:
    """An order of the account that safety approved, as the duplicate rule compares it: what
    the user asked for, and when the gateway accepted it (the command's `occurred_at`)."""

    spec: OrderSpec
    accepted_at: datetime


@dataclass(frozen=True)
class Position:
    """Net quantity of one base asset traded through the system, and its average cost.

    Deposits are not seen by safety, so a sale of deposited coins makes `quantity`
    negative. `open_buy` is what approved buy orders may still add (not yet filled,
    not terminal): counted so concurrent orders cannot slip past the limit.
    """

    quantity: Decimal = ZERO
    average_cost_usd: Decimal = ZERO
    open_buy: Decimal = ZERO


@dataclass(frozen=True)
class AccountState:
    """One account's recent history, as far as the limits need it."""

    registered: bool = False
    """Safety has seen this account's `UserRegistered`; a command from any other account is
    rejected with ACCOUNT_INACTIVE (fail closed: unknown is not active)."""
    approvals: tuple[datetime, ...] = ()
    """Request times (`request_time`) of approved orders (at least the last hour)."""
    rejections: tuple[datetime, ...] = ()
    """Request times of orders safety rejected (at least the last hour)."""
    order_volume_usd: Mapping[date, Decimal] = field(default_factory=dict)
    realised_pnl_usd: Mapping[date, Decimal] = field(default_factory=dict)
    withdrawn_usd: Mapping[date, Decimal] = field(default_factory=dict)
    withdrawals: tuple[datetime, ...] = ()
    """Request times of approved withdrawals (at least the last hour)."""
    consecutive_failures: int = 0
    last_failure_at: datetime | None = None
    positions: Mapping[str, Position] = field(default_factory=dict)
    validated_exchanges: frozenset[str] = frozenset()
    sent_orders: tuple[SentOrder, ...] = ()
    """Approved orders of the symbol being decided, accepted up to an hour either side of it
    (the duplicate rule applies its own, shorter window)."""

    def position(self, asset: str) -> Position:
        return self.positions.get(asset, Position())

    def volume_on(self, day: date) -> Decimal:
        return self.order_volume_usd.get(day, ZERO)

    def pnl_on(self, day: date) -> Decimal:
        return self.realised_pnl_usd.get(day, ZERO)

    def withdrawn_on(self, day: date) -> Decimal:
        return self.withdrawn_usd.get(day, ZERO)
