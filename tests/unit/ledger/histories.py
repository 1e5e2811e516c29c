"""Hypothesis strategies: whole histories of one ledger's messages, and what they should do.

`expected_totals` is the independent recomputation: what each user should own
after the history, from deposits, sent withdrawals and fills alone (each natural
key once), knowing nothing of holds, buckets or the ledger's code.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from hypothesis import strategies as st

from shared.contracts.envelope import Envelope
from shared.contracts.execution import DepositDetected, OrderFilled, WithdrawalSent
from shared.contracts.orders import Side
from shared.contracts.wallet import RecordDeposit
from shared.money import multiply, quantize_down, quantize_up
from tests.unit.ledger.messages import (
    approve,
    approve_withdrawal,
    cancelled,
    deposit,
    failed,
    fill,
    sent,
    withdrawal_failed,
)

USERS = ("alice", "bob")
REFERENCE = Decimal("100")
BAND = Decimal("0.10")
amounts = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("5"), places=3)
prices = st.decimals(min_value=Decimal("50"), max_value=Decimal("150"), places=2)
fractions = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1"), places=2)
fee_rates = st.decimals(min_value=Decimal(0), max_value=Decimal("0.001"), places=4)


@dataclass
class History:
    messages: list[Envelope]
    ends: set[str] = field(default_factory=set)
    """Hold ids whose history contains a terminal message."""
    holds: set[str] = field(default_factory=set)


@st.composite
def order_story(draw: st.DrawFn, user: str, order_id: str, chaotic: bool) -> list[Envelope]:
    """Approval, fills and an ending of one order, in the order they happen."""
    side = draw(st.sampled_from(Side))
    amount = draw(amounts)
    limit = draw(st.none() | prices)
    story = [
        approve(
            order_id,
            str(amount),
            side=side,
            price=str(limit) if limit else None,
            reference=str(REFERENCE),
            band=str(BAND),
            account=user,
        )
    ]
    worst = limit if limit is not None else REFERENCE * (1 + BAND)
    stretch = Decimal(2) if chaotic else Decimal(1)
    left = amount * (Decimal("1.5") if chaotic else Decimal(1))
    for trade in range(draw(st.integers(0, 3))):
        part = min(left, (amount * draw(fractions)).quantize(Decimal("0.001")))
        if part <= 0:
            break
        left -= part
        price = min(worst * stretch, draw(prices)) if side is Side.BUY else draw(prices)
        price = price.quantize(Decimal("0.01"))
        fee = (part * price * draw(fee_rates)).quantize(Decimal("0.000000001"))
        story.append(
            fill(
                order_id, f"t{trade}", str(part), str(price), fee=str(fee), side=side, account=user
            )
        )
    ending = draw(st.sampled_from(["filled", "cancelled", "failed", "none"]))
    if ending == "filled" and len(story) > 1:
        last = story[-1].body(OrderFilled)
        story[-1] = fill(
            order_id,
            last.trade_id,
            str(last.amount),
            str(last.price),
            fee=str(last.fee),
            side=side,
            done=True,
            account=user,
        )
    elif ending == "cancelled":
        story.append(cancelled(order_id, account=user))
    elif ending == "failed":
        story.append(failed(order_id, account=user))
    return story


@st.composite
def withdrawal_story(draw: st.DrawFn, user: str, withdrawal_id: str) -> list[Envelope]:
    asset = draw(st.sampled_from(["USDT", "BTC"]))
    amount = str(draw(amounts))
    story = [approve_withdrawal(withdrawal_id, amount, asset, account=user)]
    ending = draw(st.sampled_from(["sent", "failed", "none"]))
    if ending == "sent":
        story.append(sent(withdrawal_id, amount, asset, account=user))
    elif ending == "failed":
        story.append(withdrawal_failed(withdrawal_id, account=user))
    return story


@st.composite
def histories(draw: st.DrawFn, *, chaotic: bool) -> History:
    """Deposits, orders and withdrawals of two users, interleaved, with redeliveries.

    Calm: funds first and plenty, each order's messages in causal order, fills
    inside what was held. Chaotic: little money, fills dearer and bigger than the
    hold, and the whole history shuffled (ends before approvals, fills before holds).
    """
    deposit_min, deposit_max = (
        (Decimal("0.01"), Decimal("50")) if chaotic else (Decimal("10000"), Decimal("1000000"))
    )
    funding: list[Envelope] = []
    for user in USERS:
        for asset in ("USDT", "BTC"):
            for n in range(draw(st.integers(1, 2))):
                value = draw(st.decimals(min_value=deposit_min, max_value=deposit_max, places=2))
                funding.append(
                    deposit(str(value), asset, reference=f"{user}-{asset}-{n}", account=user)
                )
    stories: list[list[Envelope]] = []
    history = History([])
    for n in range(draw(st.integers(0, 6))):
        user = draw(st.sampled_from(USERS))
        story = draw(order_story(user, f"o{n}", chaotic))
        stories.append(story)
        history.holds.add(f"o{n}")
    for n in range(draw(st.integers(0, 3))):
        stories.append(draw(withdrawal_story(draw(st.sampled_from(USERS)), f"w{n}")))
        history.holds.add(f"w{n}")
    rng: random.Random = draw(st.randoms(use_true_random=False))
    merged = _interleave(stories, rng)
    redelivered = [m for m in merged if rng.random() < 0.15]
    merged += redelivered
    if chaotic:
        merged = funding + merged
        rng.shuffle(merged)
    else:
        merged = funding + _interleave([merged], rng)
    history.messages = merged
    history.ends = {m.correlation_id for m in merged if _is_terminal(m)}
    return history


def _interleave(stories: list[list[Envelope]], rng: random.Random) -> list[Envelope]:
    """Merge stories keeping each one's own order."""
    queues = [list(s) for s in stories if s]
    merged: list[Envelope] = []
    while queues:
        queue = rng.choice(queues)
        merged.append(queue.pop(0))
        if not queue:
            queues.remove(queue)
    return merged


def _is_terminal(message: Envelope) -> bool:
    payload = message.payload
    if isinstance(payload, OrderFilled):
        return payload.status == "filled"
    return message.type in {"OrderCancelled", "OrderFailed", "WithdrawalSent", "WithdrawalFailed"}


def expected_totals(messages: list[Envelope]) -> dict[tuple[str, str], Decimal]:
    """(user, asset) → what the user should own, recomputed from what happened, once each."""
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    seen: set[tuple[str, ...]] = set()
    for message in messages:
        user, payload = message.account_id, message.payload
        match payload:
            case RecordDeposit() | DepositDetected():
                ref = payload.reference if isinstance(payload, RecordDeposit) else payload.txid
                if ("deposit", payload.venue, ref) not in seen:
                    seen.add(("deposit", payload.venue, ref))
                    totals[(user, payload.asset)] += payload.amount
            case WithdrawalSent():
                if ("sent", payload.withdrawal_id) not in seen:
                    seen.add(("sent", payload.withdrawal_id))
                    totals[(user, payload.asset)] -= payload.amount
            case OrderFilled():
                if ("fill", payload.order_id, payload.trade_id) in seen:
                    continue
                seen.add(("fill", payload.order_id, payload.trade_id))
                base, quote = payload.symbol.split("/")
                gross = multiply(payload.amount, payload.price)
                if payload.side == "buy":
                    totals[(user, base)] += payload.amount
                    totals[(user, quote)] -= quantize_up(gross)
                else:
                    totals[(user, base)] -= payload.amount
                    totals[(user, quote)] += quantize_down(gross)
                totals[(user, payload.fee_asset)] -= payload.fee
    return dict(totals)
