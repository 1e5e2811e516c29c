"""Booking one fill: position, realised P&L of its UTC day, open exposure, failure streak."""

from __future__ import annotations

from datetime import datetime

from services.safety.domain import Limits, book_fill, fee_in_usd, usd_rate_at_any_age, utc_day
from services.safety.domain.valuation import VALUATION_QUOTE
from services.safety.errors import UnvaluedFill
from services.safety.store import SafetyStore
from services.safety.store_facts import FactStore
from services.safety.store_surveillance import SurveillanceStore
from shared.contracts.envelope import Envelope
from shared.contracts.execution import FillStatus, OrderFilled
from shared.contracts.orders import Side
from shared.db import Connection
from shared.money import multiply


async def book_fill_event(
    conn: Connection, message: Envelope, fill: OrderFilled, limits: Limits, now: datetime
) -> bool:
    """Apply a fill once (by trade id); False if it was already booked. The caller holds the
    account's lock. The booking keeps the fill's account, side, price and time (its
    `occurred_at`) for the post-trade controls.

    The quote is valued at the rate safety approved the order with; a fill it cannot
    value (an unknown order on a quote, or a fee asset, that never had a price) is
    refused, so it is parked in the dead-letter topic instead of booked at a guess.
    """
    store, facts, account_id = SafetyStore(conn), FactStore(conn), message.account_id
    booked = SurveillanceStore(conn).first_booking_of_fill(account_id, fill, message.occurred_at)
    if not await booked:
        return False
    base, quote = fill.symbol.split("/")
    assets = {quote, fill.fee_asset}
    prices = await store.price_book(f"{asset}/{VALUATION_QUOTE}" for asset in assets)
    quote_usd = await facts.quote_rate_at_approval(fill.order_id)
    if quote_usd is None:
        quote_usd = usd_rate_at_any_age(quote, prices, limits)
    if quote_usd is None:
        raise UnvaluedFill(f"no USD rate for {quote} to book fill {fill.trade_id}")
    fee_usd = fee_in_usd(
        fee=fill.fee,
        fee_asset=fill.fee_asset,
        base=base,
        quote=quote,
        fill_price=fill.price,
        quote_usd=quote_usd,
        prices=prices,
        limits=limits,
    )
    if fee_usd is None:
        raise UnvaluedFill(f"no USD rate for fee asset {fill.fee_asset} of {fill.trade_id}")
    booking = book_fill(
        await store.position(account_id, base),
        Side(fill.side),
        fill.amount,
        multiply(fill.price, quote_usd),
        fee_usd,
    )
    await facts.save_position(account_id, base, booking.position, now)
    if booking.realised_usd != 0:
        day = utc_day(message.occurred_at)
        await store.add_daily(account_id, day, "realised_pnl", booking.realised_usd)
    await facts.add_fill_to_order(
        fill.order_id, fill.amount, final=fill.status is FillStatus.FILLED
    )
    await facts.reset_failures(account_id)
    return True
