"""The one interface every venue adapter speaks (paper, and later any ccxt exchange).

The vocabulary follows ccxt's unified API (order status `open`/`closed`/`canceled`/`rejected`,
trades with their own ids) so a ccxt adapter maps onto it directly. An adapter signals a
definite refusal with `VenueRejected` and an unknown outcome with `VenueOutcomeUnknown`
(both in `services.execution.domain.errors`); anything else is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from services.execution.domain.orders import Trade, VenueOrderStatus
from shared.contracts.execution import ListedMarket
from shared.contracts.orders import OrderType, Side


@dataclass(frozen=True)
class OrderRequest:
    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    amount: Decimal
    price: Decimal | None


@dataclass(frozen=True)
class VenueOrder:
    """What the venue says about an order, with every trade of it so far."""

    client_order_id: str
    venue_order_id: str
    status: VenueOrderStatus
    trades: tuple[Trade, ...]


@dataclass(frozen=True)
class WithdrawalRequest:
    withdrawal_id: str
    asset: str
    amount: Decimal
    address: str
    network: str | None


@dataclass(frozen=True)
class WithdrawalReceipt:
    txid: str


@dataclass(frozen=True)
class DepositSeen:
    """A deposit the venue reports as credited; `txid` makes it count once."""

    txid: str
    asset: str
    amount: Decimal


class Venue(Protocol):
    name: str

    async def place_order(self, request: OrderRequest) -> VenueOrder:
        """Place once; placing the same client order id again must not create a second order."""
        ...

    async def fetch_order_by_client_id(
        self, symbol: str, client_order_id: str
    ) -> VenueOrder | None:
        """The order as the venue knows it, or None when the venue never received it."""
        ...

    async def cancel_order(self, symbol: str, client_order_id: str) -> VenueOrder:
        """Cancel what is left; the answer carries every trade made before the cancel."""
        ...

    async def withdraw(self, request: WithdrawalRequest) -> WithdrawalReceipt:
        """Send once per withdrawal id; asking again answers with the first receipt."""
        ...


class RemoteVenue(Venue, Protocol):
    """A venue across the network (a ccxt exchange, one user's key): also checks the key,
    finds a withdrawal whose answer was lost, lists deposits and balances, and holds a
    connection to close."""

    async def check_credentials(self) -> None:
        """Return when the key works (`fetch_balance`); `VenueRejected` when it does not."""
        ...

    async def find_withdrawal(self, request: WithdrawalRequest) -> WithdrawalReceipt | None:
        """The withdrawal as the venue recorded it, or None when it has no record of it."""
        ...

    async def deposits(self, since_ms: int) -> list[DepositSeen]: ...

    async def balances(self) -> dict[str, Decimal]:
        """What the account holds (`fetch_balance`): the total (free + used) of each asset it
        holds any of. Raises rather than guess an amount it could not read."""
        ...

    async def markets(self, *, reload: bool = False) -> list[ListedMarket]:
        """The spot markets the venue lists, with its rules for each (`load_markets`; `reload`
        asks the venue again rather than using what this client already loaded)."""
        ...

    async def cancel_all_after(self, timeout_ms: int) -> bool:
        """Set the venue's own dead man's timer (0 clears it); False when the venue has none."""
        ...

    async def close(self) -> None: ...


__all__ = [
    "DepositSeen",
    "OrderRequest",
    "RemoteVenue",
    "Trade",
    "Venue",
    "VenueOrder",
    "VenueOrderStatus",
    "WithdrawalReceipt",
    "WithdrawalRequest",
]
