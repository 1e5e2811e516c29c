"""The inputs of one decision: everything a rule may read, loaded before it runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.safety.domain.limits import Limits
from services.safety.domain.markets import MarketListing
from services.safety.domain.state import AccountState, KillSwitches, PriceBook, Restrictions
from shared.contracts.orders import OrderSpec, PlaceOrder
from shared.contracts.wallet import RequestWithdrawal, WithdrawalSpec


@dataclass(frozen=True)
class OrderCheck:
    """Everything one pre-trade decision reads."""

    account_id: str
    command: PlaceOrder
    account: AccountState
    limits: Limits
    prices: PriceBook
    switches: KillSwitches
    now: datetime
    market: MarketListing
    """The order's market at its venue, as last listed."""
    requested_at: datetime | None = None
    """When the user made the request, already clamped (`state.request_time`); None: now."""
    accepted_at: datetime | None = None
    """When the gateway accepted the order (the command's `occurred_at`, not clamped): what
    the duplicate rule compares, so lag or redelivery never changes its decision. None: the
    request time."""
    restrictions: Restrictions = field(default_factory=Restrictions)

    @property
    def request_time(self) -> datetime:
        """The moment the rolling windows (hourly trades, order rate, bursts) end at."""
        return self.requested_at if self.requested_at is not None else self.now

    @property
    def acceptance_time(self) -> datetime:
        return self.accepted_at if self.accepted_at is not None else self.request_time

    @property
    def order(self) -> OrderSpec:
        return self.command.order


@dataclass(frozen=True)
class WithdrawalCheck:
    """Everything one pre-withdrawal decision reads."""

    account_id: str
    command: RequestWithdrawal
    account: AccountState
    limits: Limits
    prices: PriceBook
    switches: KillSwitches
    now: datetime
    requested_at: datetime | None = None
    """When the user made the request, already clamped (`state.request_time`); None: now."""
    restrictions: Restrictions = field(default_factory=Restrictions)

    @property
    def request_time(self) -> datetime:
        """The moment the rolling windows (hourly trades, order rate, bursts) end at."""
        return self.requested_at if self.requested_at is not None else self.now

    @property
    def withdrawal(self) -> WithdrawalSpec:
        return self.command.withdrawal
